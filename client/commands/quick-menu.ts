/** The menu behind the status bar item. */
import * as vscode from 'vscode';
import { settings } from '../config';

export async function showQuickMenu(snoozed: boolean, error?: string): Promise<void> {
  const enabled = settings().enabled;
  const fixes = [
    { label: '$(settings-gear) Open settings', command: 'neoxComplete.openSettings' },
    { label: '$(output) Show logs', command: 'neoxComplete.showLogs' },
  ];
  const items: (vscode.QuickPickItem & { command: string })[] = [
    // In error the ways to fix or explain it come first; the error itself is the menu's placeholder.
    ...(error ? fixes : []),
    { label: enabled ? '$(circle-slash) Turn completions off' : '$(check) Turn completions on', command: 'neoxComplete.toggle' },
    { label: snoozed ? '$(bell) Resume completions' : '$(bell-slash) Snooze completions…', command: 'neoxComplete.snooze' },
    { label: '$(server-process) Select model / backend…', command: 'neoxComplete.selectModel' },
    { label: '$(graph) Show completion statistics', command: 'neoxComplete.showStatistics' },
    { label: '$(comment-discussion) Open chat', command: 'neoxComplete.chat.focus' },
    { label: '$(key) Set API key…', command: 'neoxComplete.setApiKey' },
    ...(error ? [] : fixes),
    { label: '$(debug-restart) Restart language server', command: 'neoxComplete.restartServer' },
  ];
  const pick = await vscode.window.showQuickPick(items, { title: 'NeoX Complete', placeHolder: error ? `Error: ${error}` : undefined });
  if (!pick) return;
  if (pick.command === 'neoxComplete.snooze' && snoozed) await vscode.commands.executeCommand('neoxComplete.snooze', 0);
  else await vscode.commands.executeCommand(pick.command);
}
