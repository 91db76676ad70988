/**
 * "NeoX: Search workspace": a quick pick that asks the server's workspace index (neox/searchWorkspace)
 * as the user types, and opens the chosen result at its lines. The server ranks; the quick pick keeps
 * its order (alwaysShow, no filtering of its own).
 */
import * as vscode from 'vscode';
import { SearchWorkspaceRequest, type CodeLocation, type SearchResultItem } from '../../protocol/index';
import { indexLine, resultRow } from '../index-text';
import type { NeoxClient } from '../neox-client';

const TYPING_DELAY_MS = 200;

interface Row extends vscode.QuickPickItem {
  result: SearchResultItem;
}

/** Opens a file at a range of lines, the first of them selected and centred. */
export async function openLocation(loc: CodeLocation): Promise<vscode.TextEditor> {
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(loc.uri));
  const start = new vscode.Position(Math.min(loc.startLine, doc.lineCount - 1), 0);
  const editor = await vscode.window.showTextDocument(doc, { selection: new vscode.Range(start, start), preview: true });
  editor.revealRange(new vscode.Range(start, new vscode.Position(Math.min(loc.endLine, doc.lineCount - 1), 0)), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  return editor;
}

/** Shows the quick pick; `query` starts it with that text (the command's argument). Resolves when it closes. */
export async function searchWorkspace(neox: NeoxClient, query?: string): Promise<void> {
  const client = await neox.ready();
  const pick = vscode.window.createQuickPick<Row>();
  pick.title = 'NeoX: Search workspace';
  pick.placeholder = 'A name, what the code does, or a piece of code';
  pick.matchOnDescription = false;
  pick.matchOnDetail = false;
  let asked = 0;
  let timer: NodeJS.Timeout | undefined;
  const search = async (text: string) => {
    const mine = ++asked;
    if (!text.trim()) return void (pick.items = []);
    pick.busy = true;
    try {
      const r = await client.sendRequest(SearchWorkspaceRequest, { query: text, limit: 20 });
      if (mine !== asked) return;
      pick.items = r.results.map((result) => ({ ...resultRow(result), alwaysShow: true, result }));
      const state = indexLine(r.index);
      pick.title = r.index.state === 'ready' || !state ? 'NeoX: Search workspace' : `NeoX: Search workspace (${state.replace('Workspace index: ', 'index ')})`;
    } catch (e) {
      if (mine === asked) pick.title = `NeoX: Search workspace - ${e instanceof Error ? e.message : String(e)}`;
    } finally {
      if (mine === asked) pick.busy = false;
    }
  };
  pick.onDidChangeValue((v) => {
    clearTimeout(timer);
    timer = setTimeout(() => void search(v), TYPING_DELAY_MS);
  });
  const closed = new Promise<void>((resolve) => pick.onDidHide(() => (clearTimeout(timer), pick.dispose(), resolve())));
  pick.onDidAccept(() => {
    const row = pick.selectedItems[0];
    if (!row) return;
    pick.hide();
    void openLocation(row.result);
  });
  pick.show();
  if (query) {
    pick.value = query;
    await search(query);
  }
  return closed;
}
