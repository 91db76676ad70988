/** "NeoX: Set API key": kept in SecretStorage (never settings) and pushed to the server. */
import * as vscode from 'vscode';
import { API_KEY_SECRET } from '../config';
import type { NeoxClient } from '../neox-client';

export async function setApiKey(context: vscode.ExtensionContext, neox: NeoxClient, key?: string): Promise<void> {
  const value =
    key ??
    (await vscode.window.showInputBox({
      title: 'NeoX: API key for the remote server',
      prompt: 'Sent as a Bearer token to neoxComplete.remoteUrl. Leave empty to remove the stored key.',
      password: true,
      ignoreFocusOut: true,
    }));
  if (value === undefined) return;
  if (value.trim()) await context.secrets.store(API_KEY_SECRET, value.trim());
  else await context.secrets.delete(API_KEY_SECRET);
  await neox.sendSecrets();
  void vscode.window.setStatusBarMessage(`NeoX Complete: API key ${value.trim() ? 'stored' : 'removed'}`, 3000);
}
