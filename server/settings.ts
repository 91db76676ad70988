/**
 * Settings from workspace/configuration (section "neoxComplete") merged over the defaults.
 * A value of the wrong type is replaced by its default and reported once, naming the setting,
 * instead of breaking completions.
 */
import { DEFAULT_SETTINGS, type NeoxExtraSettings, type NeoxSettings } from './protocol';
import type { CompletionSettings } from './completion-service';
import { REMOTE_DEFAULTS } from '../engine/index';

export type EffectiveSettings = NeoxSettings & Required<NeoxExtraSettings>;

export const DEFAULT_EXTRA: Required<NeoxExtraSettings> = {
  candidates: 3,
  maxLines: 12,
  crossFileContext: true,
  remoteCaFile: '',
  remoteConnectTimeoutMs: REMOTE_DEFAULTS.connectTimeoutMs,
  remoteFirstTokenTimeoutMs: REMOTE_DEFAULTS.firstTokenTimeoutMs,
};

const ENUMS: Partial<Record<keyof NeoxSettings, readonly string[]>> = {
  backend: ['local', 'openai', 'tgi'],
  quantization: ['fp32', 'int8', 'int4'],
};

export function resolveSettings(raw: unknown): { settings: EffectiveSettings; problems: string[] } {
  const problems: string[] = [];
  const base: EffectiveSettings = { ...DEFAULT_SETTINGS, ...DEFAULT_EXTRA };
  if (raw === null || raw === undefined) return { settings: base, problems };
  if (typeof raw !== 'object') return { settings: base, problems: ['neoxComplete: expected an object of settings'] };
  const r = raw as Record<string, unknown>;
  const out = base as unknown as Record<string, unknown>;
  for (const [key, def] of Object.entries(base)) {
    const v = r[key];
    if (v === undefined || v === null) continue;
    let ok: boolean;
    if (key === 'debounceMs') ok = v === 'auto' || (typeof v === 'number' && v >= 0);
    else if (key === 'enabledLanguages') ok = Array.isArray(v) && v.every((x) => typeof x === 'string');
    else if (ENUMS[key as keyof NeoxSettings]) ok = ENUMS[key as keyof NeoxSettings]!.includes(v as string);
    else if (typeof def === 'number') ok = typeof v === 'number' && Number.isFinite(v) && v >= 0;
    else ok = typeof v === typeof def;
    if (ok) out[key] = v;
    else problems.push(`neoxComplete.${key}: ${JSON.stringify(v)} is not valid, using ${JSON.stringify(def)}`);
  }
  const s = out as unknown as EffectiveSettings;
  s.maxTokens = Math.max(1, Math.floor(s.maxTokens));
  s.candidates = Math.min(8, Math.max(1, Math.floor(s.candidates)));
  s.maxLines = Math.max(1, Math.floor(s.maxLines));
  s.contextBudget = Math.max(64, Math.floor(s.contextBudget));
  return { settings: s, problems };
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
