/** The menu behind the status bar item. */
import * as vscode from 'vscode';
import { settings } from '../config';

export async function showQuickMenu(snoozed: boolean): Promise<void> {
  const enabled = settings().enabled;
  const items: (vscode.QuickPickItem & { command: string })[] = [
    { label: enabled ? '$(circle-slash) Turn completions off' : '$(check) Turn completions on', command: 'neoxComplete.toggle' },
    { label: snoozed ? '$(bell) Resume completions' : '$(bell-slash) Snooze completions…', command: 'neoxComplete.snooze' },
    { label: '$(server-process) Select model / backend…', command: 'neoxComplete.selectModel' },
    { label: '$(graph) Show completion statistics', command: 'neoxComplete.showStatistics' },
    { label: '$(comment-discussion) Open chat', command: 'neoxComplete.chat.focus' },
    { label: '$(key) Set API key…', command: 'neoxComplete.setApiKey' },
    { label: '$(settings-gear) Open settings', command: 'neoxComplete.openSettings' },
    { label: '$(output) Show logs', command: 'neoxComplete.showLogs' },
    { label: '$(debug-restart) Restart language server', command: 'neoxComplete.restartServer' },
  ];
  const pick = await vscode.window.showQuickPick(items, { title: 'NeoX Complete' });
  if (!pick) return;
  if (pick.command === 'neoxComplete.snooze' && snoozed) await vscode.commands.executeCommand('neoxComplete.snooze', 0);
  else await vscode.commands.executeCommand(pick.command);
}
