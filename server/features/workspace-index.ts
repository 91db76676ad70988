/**
 * The workspace index as a feature: runs one WorkspaceIndex (server/index/) for the workspace's
 * folders in the editor's workspace storage, embedding with the current backend; starts it once the
 * backend is ready, rebuilds it for another model, follows the index settings, feeds it saved,
 * created, changed and deleted files (didSave, and workspace/didChangeWatchedFiles registered for
 * every file), and answers neox/searchWorkspace and neox/indexControl. Its progress goes out in the
 * status (StatusParams.index). It waits while the user types or a generation runs.
 */
import { join } from 'node:path';
import { DidChangeWatchedFilesNotification, ErrorCodes, FileChangeType, ResponseError, type Connection } from 'vscode-languageserver/node';
import { IndexControlRequest, SEARCH_MODES, SearchWorkspaceRequest, type IndexStatus, type SearchResultItem } from '../../protocol/index';
import { stopDefinitionsWorker } from '../index/definitions';
import { embedderIdentity, indexEmbedOptions } from '../index/embedding';
import { WorkspaceIndex, type Embedder } from '../index/workspace-index';
import { toResponseError } from '../requests';
import type { ServerDeps } from '../services';
import type { EffectiveSettings } from '../settings';

/** After a keystroke the index waits this long: a completion request is likely on its way. */
const TYPING_PAUSE_MS = 750;
const MAX_RESULTS = 100;

const off = (message: string): IndexStatus => ({ state: 'off', filesDone: 0, filesTotal: 0, files: 0, chunks: 0, message });

export function register(connection: Connection, deps: ServerDeps): () => Promise<void> {
  const storage = deps.init.workspaceStoragePath;
  const dir = storage ? join(storage, 'workspace-index') : undefined;
  let index: WorkspaceIndex | undefined;
  let lastTyped = 0;
  let exclude = '';
  let watching = false;
  const publish = (s: IndexStatus) => deps.status.set({ index: s });

  const stop = async (why: string) => {
    const old = index;
    index = deps.workspace.index = undefined;
    await old?.dispose();
    publish(off(why));
  };

  const embedder = (identity: string): Embedder => ({
    identity,
    embed: async (texts) => {
      const { backend, info } = await deps.ready();
      const spec = deps.backends.current;
      // Another model took over: its vectors must not go into this index (the next one is on its way).
      if (!spec || embedderIdentity(spec, info) !== identity) throw new Error('the model changed; the index is rebuilt for the new one');
      return backend.embed!(texts, indexEmbedOptions(spec.kind));
    },
  });

  /** Brings the running index in line with the settings and the backend (one call at a time: see `update`). */
  const reconcile = async (s: EffectiveSettings) => {
    if (!dir || !deps.folders.uris.length) return stop('no workspace folder is open');
    if (!s['index.enabled']) return stop('turned off (neoxComplete.index.enabled)');
    const loaded = await deps.ready().catch(() => undefined);
    const spec = deps.backends.current;
    // Not loaded (the status says why): the next onReady comes back here.
    if (!loaded || !spec) return;
    const { backend, info } = loaded;
    if (!backend.embed || !info.canEmbed) return stop(`the ${spec.kind} backend cannot embed text`);
    const identity = embedderIdentity(spec, info);
    const patterns = JSON.stringify(s['index.exclude']);
    if (index && index.identity === identity && index.folders === deps.folders.uris) {
      if (patterns !== exclude) index.setExclude(s['index.exclude']);
      exclude = patterns;
      return;
    }
    await index?.dispose();
    exclude = patterns;
    index = deps.workspace.index = new WorkspaceIndex({
      folders: deps.folders.uris,
      dir,
      exclude: s['index.exclude'],
      embedder: embedder(identity),
      busy: () => deps.activity.running > 0 || Date.now() - lastTyped < TYPING_PAUSE_MS,
      onStatus: publish,
      log: (m) => connection.console.info(m),
    });
    void index.start();
  };

  /** Every file event of the workspace, where the client lets the server ask for them. */
  const watch = () => {
    if (watching || !deps.canWatchFiles) return;
    watching = true;
    void connection.client.register(DidChangeWatchedFilesNotification.type, { watchers: [{ globPattern: '**/*' }] }).catch((e: unknown) => {
      watching = false;
      connection.console.warn(`workspace index: cannot watch files (${(e as Error).message}); only saves update it`);
    });
  };

  let queue = Promise.resolve();
  const update = () => {
    queue = queue.then(() => reconcile(deps.settings.current)).catch((e: unknown) => connection.console.error(`workspace index: ${(e as Error).message}`));
  };
  deps.settings.onApply(() => {
    watch();
    update();
  });
  deps.backends.subscribe({ onReady: update });
  // Another set of folders: the index starts again over them (the store keeps what is unchanged:
  // paths that stay the same are not read again; with a second folder, paths take its name as prefix).
  deps.folders.onChange(update);
  deps.documents.onDidChangeContent(() => (lastTyped = Date.now()));
  deps.documents.onDidSave((e) => index?.changed(e.document.uri));
  connection.onDidChangeWatchedFiles((p) => {
    for (const c of p.changes) {
      if (c.type === FileChangeType.Deleted) index?.deleted(c.uri);
      else index?.changed(c.uri);
    }
  });

  connection.onRequest(SearchWorkspaceRequest, async (p) => {
    try {
      const mode = p.mode ?? 'hybrid';
      if (!SEARCH_MODES.includes(mode)) throw new ResponseError(ErrorCodes.InvalidParams, `searchWorkspace: mode must be one of ${SEARCH_MODES.join(', ')} (got ${JSON.stringify(p.mode)})`);
      const k = Math.max(1, Math.min(MAX_RESULTS, Math.floor(p.limit ?? 20)));
      const hits = deps.workspace.available && index ? await index.search(String(p.query ?? ''), { k, mode }) : [];
      const results: SearchResultItem[] = hits.map((h) => ({ uri: h.uri, path: h.path, startLine: h.startLine, endLine: h.endLine, name: h.name, preview: preview(h.text), score: h.score }));
      return { results, index: index?.current ?? deps.status.current.index ?? off('not started') };
    } catch (e) {
      throw toResponseError(e);
    }
  });

  connection.onRequest(IndexControlRequest, (p) => {
    if (!index) return deps.status.current.index ?? off('not started');
    if (p.action === 'pause') index.pause();
    else if (p.action === 'resume') index.resume();
    else if (p.action === 'rebuild') index.rebuild();
    else throw new ResponseError(ErrorCodes.InvalidParams, `indexControl: action must be pause, resume or rebuild (got ${JSON.stringify(p.action)})`);
    return index.current;
  });

  return async () => {
    await index?.dispose();
    await stopDefinitionsWorker();
  };
}

/** The first lines of a chunk, for a result list. */
function preview(text: string): string {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .slice(0, 3)
    .join('\n')
    .slice(0, 300);
}
