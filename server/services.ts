/**
 * The shared services every feature is given: built once per session, from the initialize
 * request. Features talk to each other only through these.
 */
import type { Connection, InitializeParams, TextDocuments } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { join } from 'node:path';
import type { CompletionBackend, ModelInfo } from '../engine/types';
import { BackendManager } from './backend-factory';
import { CompletionService } from './completion-service';
import { relativePath } from './paths';
import { WorkspaceFolders } from './workspace-folders';
import { StatusNotification, type NeoxInitializationOptions } from '../protocol/index';
import { WorkspaceRetrieval } from './index/retrieval';
import { Activity } from './scheduler/activity';
import { completionSettings } from './settings';
import { SettingsStore } from './settings-store';
import { Statistics } from './stats';
import { StatusReporter } from './status';

export interface ServerDeps {
  documents: TextDocuments<TextDocument>;
  init: NeoxInitializationOptions;
  /** The client answers workspace/configuration. */
  canPullConfiguration: boolean;
  /** The client lets the server register workspace/didChangeWatchedFiles watchers. */
  canWatchFiles: boolean;
  /** A document's path relative to its workspace folder (the prompt header). */
  pathOf(uri: string): string;
  settings: SettingsStore;
  status: StatusReporter;
  backends: BackendManager;
  /** The backend, loaded; waits for the first settings. */
  ready(): Promise<{ backend: CompletionBackend; info: ModelInfo }>;
  completions: CompletionService;
  /** Generations running now, inline and streaming. */
  activity: Activity;
  stats: Statistics;
  /** The workspace folders, followed as the editor adds and removes them. */
  folders: WorkspaceFolders;
  /** The workspace index, when one runs (features/workspace-index.ts): related code for prompts and chat. */
  workspace: WorkspaceRetrieval;
}

export function createServices(connection: Connection, documents: TextDocuments<TextDocument>, params: InitializeParams): ServerDeps {
  const init = (params.initializationOptions ?? {}) as ServerDeps['init'];
  const roots = (params.workspaceFolders ?? []).map((f) => f.uri);
  if (params.rootUri) roots.push(params.rootUri);
  const folders = new WorkspaceFolders(roots);
  if (params.capabilities.workspace?.workspaceFolders) {
    connection.workspace.onDidChangeWorkspaceFolders((e) => folders.change(e.added.map((f) => f.uri), e.removed.map((f) => f.uri)));
  }
  const settings = new SettingsStore();
  const status = new StatusReporter({ state: 'starting', backend: settings.current.backend, model: '' }, (s) =>
    void connection.sendNotification(StatusNotification, s).catch(() => undefined),
  );
  const storage = init.storagePath ?? init.cacheDir;
  const stats = new Statistics(storage ? join(storage, 'statistics.json') : undefined);
  const backends = new BackendManager(init);
  const ready = async () => {
    await settings.applied;
    return backends.ready();
  };
  const activity = new Activity((busy) => status.busy(busy));
  const workspace = new WorkspaceRetrieval();
  const completions = new CompletionService({
    ready,
    countTokens: (t) => backends.countTokens(t),
    settings: () => completionSettings(settings.current),
    stats,
    activity,
    related: async (uri, query) => (await workspace.related(uri, query)).map((c) => ({ id: c.id, path: c.path, text: c.text })),
  });
  return {
    documents,
    init,
    canPullConfiguration: !!params.capabilities.workspace?.configuration,
    canWatchFiles: !!params.capabilities.workspace?.didChangeWatchedFiles?.dynamicRegistration,
    pathOf: (uri) => relativePath(uri, folders.uris),
    settings,
    status,
    backends,
    ready,
    completions,
    activity,
    stats,
    folders,
    workspace,
  };
}
