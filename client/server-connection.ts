/**
 * Starts the language server (dist/server.mjs, a Node module over IPC) and keeps it running:
 * when it dies it is restarted with a message, up to MAX_RESTARTS within RESTART_WINDOW_MS,
 * after which the user gets an error with a Restart action instead of a crash loop.
 */
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  RevealOutputChannelOn,
  State,
  TransportKind,
  type CloseHandlerResult,
  type ErrorHandlerResult,
  type LanguageClientOptions,
  type Middleware,
  type ServerOptions,
} from 'vscode-languageclient/node';
import { SECTION } from './config';

const MAX_RESTARTS = 4;
const RESTART_WINDOW_MS = 3 * 60_000;

export interface ConnectionOptions {
  context: vscode.ExtensionContext;
  output: vscode.LogOutputChannel;
  middleware: Middleware;
  /** Told each time the server (re)starts, after the connection is up. */
  onReady(client: LanguageClient): void;
}

export function createLanguageClient(opts: ConnectionOptions): LanguageClient {
  const { context, output } = opts;
  const module = vscode.Uri.joinPath(context.extensionUri, 'dist', 'server.mjs').fsPath;
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--enable-source-maps'] } },
  };
  const restarts: number[] = [];
  const clientOptions: LanguageClientOptions = {
    // Every file or untitled document; which languages get ghost text is the enabledLanguages setting.
    documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
    synchronize: { configurationSection: SECTION },
    outputChannel: output,
    // A failed request is logged, not notified: the library's toast (one per failed inline request) can
    // neither be withdrawn nor deduplicated. The engine's error reaches the user as state (status-bar.ts).
    revealOutputChannelOn: RevealOutputChannelOn.Never,
    middleware: opts.middleware,
    initializationOptions: {
      extensionPath: context.extensionUri.fsPath,
      defaultModelPath: vscode.Uri.joinPath(context.extensionUri, 'models', 'neox-code-23m').fsPath,
      // Converted ONNX models are cached per user, outside the (read-only, replaced-on-update) extension folder.
      cacheDir: context.globalStorageUri.fsPath,
      // This workspace's own storage: the workspace index lives there (none without a folder open).
      workspaceStoragePath: context.storageUri?.fsPath,
    },
    errorHandler: {
      error(error): ErrorHandlerResult {
        output.error(`connection error: ${error.message}`);
        return { action: ErrorAction.Continue, handled: true };
      },
      closed(): CloseHandlerResult {
        const now = Date.now();
        while (restarts.length && now - restarts[0] > RESTART_WINDOW_MS) restarts.shift();
        if (restarts.length >= MAX_RESTARTS) {
          void vscode.window
            .showErrorMessage(
              `NeoX Complete: the language server stopped ${MAX_RESTARTS + 1} times in 3 minutes and was not restarted.`,
              'Restart',
              'Show Logs',
            )
            .then((a) => {
              if (a === 'Restart') void vscode.commands.executeCommand('neoxComplete.restartServer');
              if (a === 'Show Logs') output.show();
            });
          return { action: CloseAction.DoNotRestart, handled: true };
        }
        restarts.push(now);
        output.warn('language server stopped; restarting');
        void vscode.window.showWarningMessage('NeoX Complete: the language server stopped unexpectedly and was restarted.');
        return { action: CloseAction.Restart, handled: true };
      },
    },
  };
  const client = new LanguageClient('neoxComplete', 'NeoX Complete', serverOptions, clientOptions);
  client.onDidChangeState((e) => {
    // Fires again after each automatic restart: handlers re-send secrets and refresh the status.
    if (e.newState === State.Running) opts.onReady(client);
  });
  return client;
}
