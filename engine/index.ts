/**
 * The engine's one entry point for its users (the language server): a registry of backends by
 * kind, and what a caller needs to describe and talk to them. Everything else under engine/ is
 * internal to the engine; the contract itself is engine/types.ts.
 */
import { NeoxError, type BackendKind, type CompletionBackend } from './types';
import { createLocalBackend, type LocalBackendOptions } from './local/local-backend';
import { createRemoteBackend, type RemoteSettings } from './remote/index';

export * from './types';
export { REMOTE_DEFAULTS } from './remote/settings';
export type { RemoteApiKind, RemoteSettings } from './remote/settings';
export type { LocalBackendOptions } from './local/local-backend';
export { defaultModelDir as embeddedModelDir, workerScript } from './assets';
export { redactUrl, redactUrlsIn } from './redact';
export { downloadModel, formatProgress, hubCacheDir, lookupModelRef, parseHubRef, planDownload, type DownloadPlan, type DownloadProgress, type HubRef, type ModelLookup } from './hub/index';
export { listCatalogue } from './catalogue';
export { chatFormatLabel } from './chat-template';
export { describeAdapter } from './local/lora';

/** What to build: the kind picks the adapter, the rest are that adapter's options. */
export type BackendSpec = ({ kind: 'local' } & LocalBackendOptions) | RemoteSettings;

type Factory<K extends BackendKind> = (spec: Extract<BackendSpec, { kind: K }>) => CompletionBackend;

/** One adapter per kind; the local ONNX engine is just another one. */
const REGISTRY: { [K in BackendKind]: Factory<K> } = {
  local: ({ kind: _kind, ...options }) => createLocalBackend(options),
  openai: createRemoteBackend,
  tgi: createRemoteBackend,
};

/** Builds (does not load) the backend `spec` describes. */
export function createBackend(spec: BackendSpec): CompletionBackend {
  const factory = REGISTRY[spec.kind] as Factory<BackendKind> | undefined;
  if (!factory) throw new NeoxError(`unknown backend kind "${String(spec.kind)}" (use ${Object.keys(REGISTRY).join(', ')})`, 'bad_setting');
  return factory(spec as never);
}
