/**
 * Remote backends: pick the adapter for the API kind. The language server calls
 * createRemoteBackend with the user's settings and the API key from SecretStorage.
 */
import type { CompletionBackend } from '../types';
import { OpenAIBackend } from './openai';
import { resolveRemoteSettings, type RemoteSettings } from './settings';
import { TgiBackend } from './tgi';

export type { RemoteApiKind, RemoteSettings } from './settings';
export { OpenAIBackend } from './openai';
export { TgiBackend } from './tgi';

export function createRemoteBackend(settings: RemoteSettings): CompletionBackend {
  const s = resolveRemoteSettings(settings);
  return s.kind === 'tgi' ? new TgiBackend(s) : new OpenAIBackend(s);
}
