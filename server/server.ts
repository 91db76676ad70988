/**
 * The NeoX Complete language server. Started by the extension over IPC or stdio
 * (`--node-ipc` / `--stdio`: vscode-languageserver's createConnection reads argv).
 *
 * Standard LSP: text document sync, `textDocument/inlineCompletion` (3.18),
 * `workspace/configuration`. Custom methods: protocol/. The server is its features
 * (server/features/), each registering its own handlers with the shared services it is given.
 */
import { createConnection, ProposedFeatures, TextDocuments, TextDocumentSyncKind, type Connection } from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import * as debug from './features/debug';
import * as download from './features/download';
import * as generation from './features/generation';
import * as health from './features/health';
import * as inlineCompletion from './features/inline-completion';
import * as models from './features/models';
import * as prompts from './features/prompts';
import * as settings from './features/settings';
import * as statistics from './features/statistics';
import * as status from './features/status';
import * as workspaceIndex from './features/workspace-index';
import { createServices, type ServerDeps } from './services';
import { stopSyntaxWorker } from './syntax';

interface Feature {
  /** Registers the feature's handlers; may return what to do on shutdown. */
  register(connection: Connection, deps: ServerDeps): void | (() => void | Promise<void>);
}

// status and health subscribe to the backend before settings can start loading it.
const FEATURES: Feature[] = [status, health, settings, prompts, inlineCompletion, generation, statistics, models, download, debug, workspaceIndex];

const connection = createConnection(ProposedFeatures.all);
const documents = new TextDocuments(TextDocument);

connection.onInitialize((params) => {
  const deps = createServices(connection, documents, params);
  const onShutdown = FEATURES.map((f) => f.register(connection, deps)).filter((h) => typeof h === 'function');
  connection.onShutdown(async () => {
    for (const h of onShutdown) await h();
    await stopSyntaxWorker();
    await deps.backends.dispose();
  });
  return {
    capabilities: {
      // Saves too: the workspace index reads a saved file again.
      textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental, save: { includeText: false } },
      inlineCompletionProvider: true,
      // Folders added or removed later reach the prompt header, the prompt files and the index.
      workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
    },
    serverInfo: { name: 'neox-complete', version: '0.1.0' },
  };
});

// Nothing unhandled may take the server (and every open editor's completions) down.
process.on('uncaughtException', (e) => connection.console.error(`uncaught: ${e.stack ?? e.message}`));
process.on('unhandledRejection', (e) => connection.console.error(`unhandled rejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`));

documents.listen(connection);
connection.listen();
