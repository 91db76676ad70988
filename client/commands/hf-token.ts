/**
 * "NeoX: Set Hugging Face token": the access token for gated and private models, kept in SecretStorage
 * (never settings) and pushed to the server with neox/setSecrets, which uses it for downloads. Without
 * one, HF_TOKEN (or a saved huggingface-cli login) in the server's environment still works.
 */
import * as vscode from 'vscode';
import { HF_TOKEN_SECRET } from '../config';
import type { NeoxClient } from '../neox-client';

export async function setHfToken(context: vscode.ExtensionContext, neox: NeoxClient, token?: string): Promise<void> {
  const value =
    typeof token === 'string'
      ? token
      : await vscode.window.showInputBox({
          title: 'NeoX: Hugging Face access token',
          prompt: 'For gated and private models on the Hub (huggingface.co/settings/tokens; read access is enough). Leave empty to remove the stored token.',
          password: true,
          ignoreFocusOut: true,
          validateInput: (v) => (/\s/.test(v.trim()) ? 'A token has no spaces' : undefined),
        });
  if (value === undefined) return;
  if (value.trim()) await context.secrets.store(HF_TOKEN_SECRET, value.trim());
  else await context.secrets.delete(HF_TOKEN_SECRET);
  await neox.sendSecrets();
  void vscode.window.setStatusBarMessage(`NeoX Complete: Hugging Face token ${value.trim() ? 'stored' : 'removed'}`, 3000);
}
