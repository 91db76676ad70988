/** The settings section shared with the server; keys, types and defaults come from the table in protocol/settings.ts. */
import * as vscode from 'vscode';
import { defaultOf, SETTING_ENTRIES, type NeoxSettings } from '../protocol/settings';

export const SECTION = 'neoxComplete';
export const API_KEY_SECRET = 'neoxComplete.apiKey';
export const HF_TOKEN_SECRET = 'neoxComplete.hfToken';

/** Every neoxComplete.* setting, typed by the settings table; a setting the user left out reads as its default. */
export function settings(): NeoxSettings {
  const c = vscode.workspace.getConfiguration(SECTION);
  const out: Record<string, unknown> = {};
  for (const [key] of SETTING_ENTRIES) out[key] = c.get(key, defaultOf(key));
  return out as NeoxSettings;
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

/** Sets `key` for this workspace (a per-workspace choice); with no folder open, for the user. */
export async function updateWorkspaceSetting<K extends keyof NeoxSettings>(key: K, value: NeoxSettings[K] | undefined): Promise<void> {
  const target = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await vscode.workspace.getConfiguration(SECTION).update(key, value, target);
}

export function openSettings(): Thenable<unknown> {
  return vscode.commands.executeCommand('workbench.action.openSettings', `@ext:neox-complete.neox-complete`);
}
