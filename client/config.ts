/** The settings section shared with the server (NeoxSettings in server/protocol.ts). */
import * as vscode from 'vscode';
import type { NeoxSettings } from '../server/protocol';

export const SECTION = 'neoxComplete';
export const API_KEY_SECRET = 'neoxComplete.apiKey';

export function settings(): NeoxSettings {
  const c = vscode.workspace.getConfiguration(SECTION);
  return {
    enabled: c.get('enabled', true),
    backend: c.get('backend', 'local'),
    modelPath: c.get('modelPath', ''),
    quantization: c.get('quantization', 'int8'),
    remoteUrl: c.get('remoteUrl', ''),
    remoteModel: c.get('remoteModel', ''),
    maxTokens: c.get('maxTokens', 64),
    temperature: c.get('temperature', 0),
    debounceMs: c.get('debounceMs', 'auto'),
    enabledLanguages: c.get('enabledLanguages', ['*']),
    contextBudget: c.get('contextBudget', 1536),
  };
}

export function languageEnabled(languageId: string): boolean {
  const langs = settings().enabledLanguages;
  return langs.includes('*') || langs.includes(languageId);
}

export async function updateSetting<K extends keyof NeoxSettings>(key: K, value: NeoxSettings[K] | undefined): Promise<void> {
  // Workspace settings win over user settings, so write where the value is currently defined.
  const c = vscode.workspace.getConfiguration(SECTION);
  const info = c.inspect(key);
  const target =
    info?.workspaceFolderValue !== undefined
      ? vscode.ConfigurationTarget.WorkspaceFolder
      : info?.workspaceValue !== undefined
        ? vscode.ConfigurationTarget.Workspace
        : vscode.ConfigurationTarget.Global;
  await c.update(key, value, target);
}

export function openSettings(): Thenable<unknown> {
  return vscode.commands.executeCommand('workbench.action.openSettings', `@ext:neox-complete.neox-complete`);
}
