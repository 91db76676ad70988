/**
 * Models from the Hugging Face Hub: the public surface of engine/hub/ for the CLI and the language server.
 *
 * Editor flow (the server): `lookupModelRef(modelPath)` tells, without any request, whether the setting
 * is a folder, a cached Hub snapshot (use `cached.dir`) or a Hub id still to download; in that last case
 * `planDownload` says what and how big (to ask the user), then `downloadModel(plan, { onProgress, signal })`
 * fetches it (or `resolveModelRef(ref, { confirm })` in one call). Errors are NeoxError with a `hub_*` code.
 */
export { findCachedSnapshot, hubCacheDir, missingModelFiles, type CachedSnapshot } from './cache';
export { downloadModel, planDownload, type DownloadOptions, type DownloadPlan, type HubOptions, type PlannedFile } from './download';
export { hubEndpoint, hubToken, isOffline } from './env';
export type { HubErrorCode } from './errors';
export { formatProgress, type DownloadProgress } from './progress';
export { lookupModelRef, parseHubRef, resolveModelRef, type HubRef, type ModelLookup, type ResolveOptions } from './resolve';
