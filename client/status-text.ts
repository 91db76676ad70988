/**
 * What the status bar item and the load-progress notification say, as pure functions of the server's
 * status (no vscode import, so node:test covers them). Local models are named by their folder, never by
 * their path: a path pushes the state off a status bar item and cuts a notification short.
 */
import type { EngineState, StatusParams } from '../protocol/index';
import { indexBadge } from './index-text';

const ICONS: Record<EngineState, string> = {
  starting: '$(loading~spin)',
  loading: '$(loading~spin)',
  ready: '$(sparkle)',
  generating: '$(sync~spin)',
  error: '$(error)',
  disabled: '$(circle-slash)',
};

/** The last segment of a path or URL path ('' for ''). */
export function lastSegment(path: string): string {
  return path.split(/[\\/]/).filter(Boolean).pop() ?? '';
}

/** The model's UI name: the server's modelName, else (an older server) the last segment of `model`. */
export function modelDisplayName(s: Pick<StatusParams, 'model' | 'modelName'>): string {
  return s.modelName || lastSegment(s.model);
}

/** "neox-code-23m (int8, local)", "gpt-neox-20b (openai)": model, precision when local, backend. */
export function modelSummary(s: Pick<StatusParams, 'model' | 'modelName' | 'backend' | 'quantization'>): string {
  const name = modelDisplayName(s);
  const how = [s.quantization, s.backend].filter(Boolean).join(', ');
  return name ? `${name} (${how})` : how;
}

/** The status bar item's text. The latency is left out in error, where it describes an older model. */
export function statusText(s: StatusParams, snoozed: boolean): string {
  if (snoozed && s.state !== 'error') return '$(bell-slash) NeoX snoozed';
  const latency = s.lastLatencyMs !== undefined && s.state !== 'error' ? ` · ${Math.round(s.lastLatencyMs)} ms` : '';
  return `${ICONS[s.state]} NeoX: ${modelSummary(s)} · ${s.state}${latency}${indexBadge(s.index)}`;
}

/** The load-progress notification's title: the model's name and precision, never its path. */
export function progressTitle(s: Pick<StatusParams, 'model' | 'modelName' | 'quantization'>): string {
  const name = modelDisplayName(s) || 'model';
  return `NeoX Complete: loading ${name}${s.quantization ? ` (${s.quantization})` : ''}`;
}

// An absolute POSIX or Windows path, starting a word (so "layer 3/8" is none), up to the next space or
// parenthesis (model folders rarely hold either).
const PATH = String.raw`(?<=^|[\s('"])(?:[A-Za-z]:[\\/]|\/)[^\s()]*`;
const ABSOLUTE_PATH = new RegExp(PATH, 'g');
const INTO_PATH = new RegExp(String.raw`\s+into\s+` + PATH, 'g');

/**
 * A progress message fit for a notification: the model's folder becomes its name, the build's cache
 * folder ("into /cache/…") is left out, and any other path keeps only its last segment. The full
 * message still goes to the log.
 */
export function shortenPaths(message: string, s: Pick<StatusParams, 'model' | 'modelName'>): string {
  let out = message;
  const name = modelDisplayName(s);
  if (s.model && name && /[\\/]/.test(s.model)) out = out.split(s.model).join(name);
  out = out.replace(INTO_PATH, '');
  return out.replace(ABSOLUTE_PATH, (p) => lastSegment(p) || p);
}
