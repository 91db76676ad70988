/**
 * Models from the Hugging Face Hub in the editor: neox/downloadModel downloads a checkpoint into the
 * Hugging Face cache (engine/hub/) from neoxComplete.hubUrl (else HF_ENDPOINT, else huggingface.co)
 * with the token of neox/setSecrets (else HF_TOKEN), reporting neox/downloadProgress; `$/cancelRequest`
 * aborts it. When neoxComplete.modelPath is a Hub id missing from the cache, the status is the error
 * naming "NeoX: Download model" (backend-factory.ts) and neox/modelNotDownloaded lets the client ask
 * the user; once that model is downloaded it is loaded without waiting for a settings change.
 */
import { ResponseError, LSPErrorCodes, ErrorCodes, type Connection } from 'vscode-languageserver/node';
import { downloadModel, lookupModelRef, NeoxError, parseHubRef, planDownload, type DownloadProgress } from '../../engine/index';
import { modelName } from '../backend-factory';
import {
  DownloadModelRequest,
  DownloadProgressNotification,
  ModelNotDownloadedNotification,
  type DownloadModelResult,
} from '../../protocol/index';
import type { ServerDeps } from '../services';

export function register(connection: Connection, deps: ServerDeps): void {
  const { backends, status, completions } = deps;
  /** The Hub id last announced as missing, so that each failing request does not announce it again. */
  let announced: string | undefined;
  backends.subscribe({
    onError: (spec, e) => {
      if (!spec.hubMissing || !spec.hub || announced === spec.hub) return;
      announced = spec.hub;
      void connection.sendNotification(ModelNotDownloadedNotification, { ref: spec.hub, message: e.message }).catch(() => undefined);
    },
    onReady: () => (announced = undefined),
  });

  connection.onRequest(DownloadModelRequest, async (params, token): Promise<DownloadModelResult> => {
    const ref = String(params?.repo ?? '').trim();
    const hub = parseHubRef(ref);
    if (!hub) throw new ResponseError(ErrorCodes.InvalidParams, `"${ref}" is not a Hugging Face Hub id (ORG/NAME or ORG/NAME@REVISION)`);
    const abort = new AbortController();
    const sub = token.onCancellationRequested(() => abort.abort(new Error('download cancelled')));
    const settings = deps.settings.current;
    const opts = { endpoint: settings.hubUrl.trim() || undefined, token: backends.hubToken, signal: abort.signal };
    const progress = (p: DownloadProgress) =>
      void connection.sendNotification(DownloadProgressNotification, { ...(params.downloadId ? { downloadId: params.downloadId } : {}), ...p }).catch(() => undefined);
    let downloaded = 0;
    try {
      const plan = await planDownload(hub.repo, hub.revision, opts);
      downloaded = plan.downloadBytes;
      connection.console.info(`download ${ref}: ${plan.files.length} files, ${plan.totalBytes} bytes (${plan.downloadBytes} to transfer) from ${plan.endpoint}`);
      const snapshotDir = await downloadModel(plan, { ...opts, onProgress: progress });
      connection.console.info(`download ${ref}: done, ${snapshotDir}`);
      reloadIfSelected(hub.repo);
      return { repo: hub.repo, revision: hub.revision, commit: plan.commit, snapshotDir, totalBytes: plan.totalBytes, downloadedBytes: downloaded };
    } catch (e) {
      if (abort.signal.aborted || token.isCancellationRequested) {
        connection.console.info(`download ${ref}: cancelled (partial files kept for a resume)`);
        throw new ResponseError(LSPErrorCodes.RequestCancelled, `download of ${ref} cancelled`);
      }
      const err = e as Error;
      connection.console.warn(`download ${ref}: ${err.message}`);
      throw new ResponseError(ErrorCodes.InternalError, err.message, { code: e instanceof NeoxError ? e.code : 'neox_error' });
    } finally {
      sub.dispose();
    }
  });

  /** The settings select this model (a Hub id that was missing): load it now. */
  function reloadIfSelected(repo: string): void {
    const s = deps.settings.current;
    if (s.backend !== 'local' || !s.modelPath) return;
    const found = lookupModelRef(s.modelPath);
    if (found.kind !== 'hub' || found.ref.repo !== repo) return;
    if (!backends.apply(s)) return;
    completions.invalidate();
    const spec = backends.current!;
    status.switchTo({ state: s.enabled ? 'starting' : 'disabled', backend: 'local', model: spec.modelDir, modelName: modelName(spec), quantization: spec.quant, message: undefined });
    if (s.enabled) void backends.ready().catch(() => undefined);
  }
}
