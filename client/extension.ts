/**
 * NeoX Complete, the VS Code side: a thin client. It starts the language server (which does all the
 * completion work) and adds what only the editor can do: commands, the status bar, the chat view,
 * acceptance reporting, and keeping secrets in SecretStorage.
 */
import * as vscode from 'vscode';
import { ChatViewProvider, CHAT_VIEW_ID } from './chat/chat-view';
import { setApiKey } from './commands/api-key';
import { snoozeCompletions, toggleCompletions } from './commands/completions-toggle';
import { downloadModel, registerDownloads } from './commands/download-model';
import { generateFile, type GenerateFileArgs } from './commands/generate-file';
import { generateFromComment, type GenerateFromCommentArgs } from './commands/generate-from-comment';
import { setHfToken } from './commands/hf-token';
import { toggleIndexing } from './commands/index-control';
import { showQuickMenu } from './commands/quick-menu';
import { searchWorkspace } from './commands/search-workspace';
import { selectModel } from './commands/select-model';
import { showStatistics, StatisticsDocument } from './commands/statistics';
import { API_KEY_SECRET, openSettings, SECTION } from './config';
import { InlineCompletionTracker } from './inline-completions';
import { NeoxClient } from './neox-client';
import { StatusBar } from './status-bar';

/** What activate() returns: used by the in-host tests (test/host) and other extensions. */
export interface NeoxApi {
  neox: NeoxClient;
  chat: ChatViewProvider;
  inline: InlineCompletionTracker;
  statusBar: StatusBar;
  /** Whether an API key is stored (the key itself never leaves SecretStorage through this API). */
  hasApiKey(): Promise<boolean>;
}

export async function activate(context: vscode.ExtensionContext): Promise<NeoxApi> {
  const output = vscode.window.createOutputChannel('NeoX Complete', { log: true });
  const statusBar = new StatusBar(output);
  const inline = new InlineCompletionTracker(context.globalState);
  const neox = new NeoxClient(context, output, statusBar, inline);
  const chat = new ChatViewProvider(context, neox);
  const statistics = new StatisticsDocument();
  statusBar.setSnooze(inline.snoozeRemainingMs);

  const command = (id: string, fn: (...args: never[]) => unknown) => vscode.commands.registerCommand(id, fn);
  context.subscriptions.push(
    output,
    statusBar,
    inline,
    neox,
    chat,
    inline.onDidChangeSnooze(() => statusBar.setSnooze(inline.snoozeRemainingMs)),
    vscode.window.registerWebviewViewProvider(CHAT_VIEW_ID, chat, { webviewOptions: { retainContextWhenHidden: true } }),
    command('neoxComplete.triggerInline', () => vscode.commands.executeCommand('editor.action.inlineSuggest.trigger')),
    command('neoxComplete.generateFromComment', (args?: GenerateFromCommentArgs) => generateFromComment(neox, args)),
    command('neoxComplete.generateFile', (args?: GenerateFileArgs) => generateFile(neox, args)),
    command('neoxComplete.toggle', () => toggleCompletions()),
    command('neoxComplete.snooze', (minutes?: number) => snoozeCompletions(inline, minutes)),
    vscode.workspace.registerTextDocumentContentProvider(StatisticsDocument.scheme, statistics),
    command('neoxComplete.showStatistics', () => showStatistics(neox, statistics)),
    command('neoxComplete.selectModel', () => selectModel(neox)),
    command('neoxComplete.setApiKey', (key?: string) => setApiKey(context, neox, key)),
    registerDownloads(neox),
    command('neoxComplete.downloadModel', (repo?: string) => downloadModel(neox, repo)),
    command('neoxComplete.setHfToken', (token?: string) => setHfToken(context, neox, token)),
    command('neoxComplete.showMenu', () =>
      showQuickMenu(inline.snoozeRemainingMs > 0, statusBar.current.state === 'error' ? statusBar.current.message : undefined),
    ),
    command('neoxComplete.searchWorkspace', (query?: string) => searchWorkspace(neox, query)),
    command('neoxComplete.toggleIndexing', () => toggleIndexing(neox, statusBar.current.index)),
    command('neoxComplete.openSettings', () => openSettings()),
    command('neoxComplete.showLogs', () => output.show()),
    command('neoxComplete.restartServer', () => neox.restart()),
    command('neoxComplete.chat.askAboutSelection', async () => {
      await vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`);
      const q = await vscode.window.showInputBox({ title: 'Ask NeoX about the selection' });
      if (q) await chat.ask(q, 'selection');
    }),
    command('neoxComplete.chat.explainSelection', async () => {
      await vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`);
      await chat.explain();
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      // The server pulls its own settings (synchronize.configurationSection); the client only re-renders.
      if (e.affectsConfiguration(`${SECTION}.enabled`)) statusBar.setSnooze(inline.snoozeRemainingMs);
    }),
  );

  active = neox;
  // Start in the background: activation must not wait for the model to load.
  void neox.start().catch(() => undefined);
  return { neox, chat, inline, statusBar, hasApiKey: async () => !!(await context.secrets.get(API_KEY_SECRET)) };
}

let active: NeoxClient | undefined;

/** Returning the stop promise lets VS Code wait for the server to shut down cleanly. */
export function deactivate(): Thenable<void> | undefined {
  const client = active?.client;
  active = undefined;
  return client?.isRunning() ? client.stop() : undefined;
}
