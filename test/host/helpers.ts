/** Shared helpers for the in-host suites: the extension's API, waiting on its state, workspace files. */
import * as vscode from 'vscode';
import type { NeoxApi } from '../../client/extension';

export const EXTENSION_ID = 'neox-complete.neox-complete';

export async function api(): Promise<NeoxApi> {
  const ext = vscode.extensions.getExtension<NeoxApi>(EXTENSION_ID);
  if (!ext) throw new Error(`${EXTENSION_ID} is not installed in this extension host`);
  return ext.activate();
}

export async function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeout = 120_000): Promise<T> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function waitForState(a: NeoxApi, state: string, timeout = 150_000): Promise<void> {
  await until(`engine state ${state} (now ${a.statusBar.current.state}: ${a.statusBar.current.message ?? ''})`, () => a.statusBar.current.state === state, timeout);
}

export function workspaceUri(...parts: string[]): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error('the in-host tests need a workspace folder');
  return vscode.Uri.joinPath(folder.uri, ...parts);
}

export async function openWorkspaceFile(name: string, content: string): Promise<vscode.TextEditor> {
  const uri = workspaceUri(name);
  await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(content));
  const doc = await vscode.workspace.openTextDocument(uri);
  return vscode.window.showTextDocument(doc);
}

export async function setSetting(key: string, value: unknown): Promise<void> {
  await vscode.workspace.getConfiguration('neoxComplete').update(key, value, vscode.ConfigurationTarget.Workspace);
}
