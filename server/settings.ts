/**
 * Settings from workspace/configuration (section "neoxComplete") merged over the defaults of the
 * settings table (protocol/settings.ts). A value of the wrong type, or not one of its enum's values,
 * is replaced by its default and reported once, naming the setting, instead of breaking completions;
 * a number outside the table's minimum..maximum is clamped to it, an integer setting is floored.
 */
import { defaultSettings, SETTING_ENTRIES, type NeoxSettings, type SettingSpec } from '../protocol/settings';
import type { CompletionSettings } from './completion-service';

/** Every setting, resolved. */
export type EffectiveSettings = NeoxSettings;

const clamp = (v: number, s: { minimum: number; maximum?: number }): number => Math.min(s.maximum ?? Infinity, Math.max(s.minimum, v));
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The value `v` stands for under `spec`, or undefined when it is not valid there. */
function resolveValue(spec: SettingSpec, v: unknown): unknown {
  switch (spec.type) {
    case 'boolean':
    case 'string':
      return typeof v === spec.type ? v : undefined;
    case 'enum':
      return typeof v === 'string' && spec.values.includes(v) ? v : undefined;
    case 'integer':
      return isNumber(v) ? clamp(Math.floor(v), spec) : undefined;
    case 'number':
      return isNumber(v) ? clamp(v, spec) : undefined;
    case 'numberOrAuto':
      return v === 'auto' ? v : isNumber(v) ? clamp(v, spec) : undefined;
    case 'stringArray':
      return Array.isArray(v) && v.every((x) => typeof x === 'string') ? [...v] : undefined;
  }
}

export function resolveSettings(raw: unknown): { settings: EffectiveSettings; problems: string[] } {
  const problems: string[] = [];
  const settings = defaultSettings();
  if (raw === null || raw === undefined) return { settings, problems };
  if (typeof raw !== 'object') return { settings, problems: ['neoxComplete: expected an object of settings'] };
  const r = raw as Record<string, unknown>;
  const out = settings as Record<string, unknown>;
  for (const [key, spec] of SETTING_ENTRIES) {
    const v = settingValue(r, key);
    if (v === undefined || v === null) continue;
    const value = resolveValue(spec, v);
    if (value !== undefined) out[key] = value;
    else problems.push(`neoxComplete.${key}: ${JSON.stringify(v)} is not valid, using ${JSON.stringify(out[key])}`);
  }
  return { settings, problems };
}

/**
 * The raw value of `key`: VS Code answers a dotted key (`index.exclude`) as nested objects
 * ({index: {exclude}}); a flat dotted key is read too.
 */
function settingValue(raw: Record<string, unknown>, key: string): unknown {
  if (key in raw || !key.includes('.')) return raw[key];
  let v: unknown = raw;
  for (const part of key.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  return v;
}

export function languageEnabled(s: NeoxSettings, languageId: string): boolean {
  return s.enabled && (s.enabledLanguages.includes('*') || s.enabledLanguages.includes(languageId));
}

export const completionSettings = (s: EffectiveSettings): CompletionSettings => ({
  maxTokens: s.maxTokens,
  temperature: s.temperature,
  contextBudget: s.contextBudget,
  candidates: s.candidates,
  maxLines: s.maxLines,
  crossFileContext: s.crossFileContext,
  debounceMs: s.debounceMs,
});
