/**
 * "NeoX: Generate file": asks for a description and a file name, creates the file in the workspace
 * (or an untitled document without one) and streams the generated content into it.
 */
import * as vscode from 'vscode';
import { GenerateFileRequest } from '../../protocol/index';
import { EditorStream } from '../editor-stream';
import type { NeoxClient } from '../neox-client';

export interface GenerateFileArgs {
  description?: string;
  fileName?: string;
}

export async function generateFile(neox: NeoxClient, args: GenerateFileArgs = {}): Promise<vscode.Uri | undefined> {
  const description =
    args.description ??
    (await vscode.window.showInputBox({
      title: 'NeoX: Generate file (1/2)',
      prompt: 'Describe the file to generate',
      placeHolder: 'e.g. a Python module with a function that parses ISO dates',
      validateInput: (v) => (v.trim() ? undefined : 'A description is needed'),
    }));
  if (!description) return undefined;
  const fileName =
    args.fileName ??
    (await vscode.window.showInputBox({
      title: 'NeoX: Generate file (2/2)',
      prompt: 'File name (relative to the workspace folder); its extension picks the language',
      value: 'generated.py',
      valueSelection: [0, 'generated'.length],
      validateInput: (v) => (/^[^\0]+\.[A-Za-z0-9]+$/.test(v.trim()) ? undefined : 'A file name with an extension, e.g. util.py'),
    }));
  if (!fileName) return undefined;

  const folder = vscode.workspace.workspaceFolders?.[0];
  let doc: vscode.TextDocument;
  if (folder) {
    const uri = vscode.Uri.joinPath(folder.uri, fileName.trim());
    const exists = await vscode.workspace.fs.stat(uri).then(
      () => true,
      () => false,
    );
    if (exists) {
      const choice = await vscode.window.showWarningMessage(`${fileName} exists. Replace its content?`, { modal: true }, 'Replace');
      if (choice !== 'Replace') return undefined;
    }
    await vscode.workspace.fs.writeFile(uri, new Uint8Array());
    doc = await vscode.workspace.openTextDocument(uri);
  } else {
    doc = await vscode.workspace.openTextDocument({ content: '' });
  }
  const editor = await vscode.window.showTextDocument(doc);
  if (doc.getText()) await editor.edit((b) => b.delete(new vscode.Range(doc.positionAt(0), doc.positionAt(doc.getText().length))));
  const client = await neox.ready();
  const stream = new EditorStream(editor, new vscode.Position(0, 0));
  const { streamId, close } = neox.streams.open((delta) => stream.append(delta));
  try {
    const ok = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `NeoX Complete: generating ${fileName}`, cancellable: true },
      async (_p, token) => {
        const result = await client
          .sendRequest(GenerateFileRequest, { streamId, description, fileName: fileName.trim(), languageId: doc.languageId }, token)
          .catch((e: unknown) => {
            if (token.isCancellationRequested) return undefined;
            throw e;
          });
        // Cancelled: keep what was generated so far, unsaved, for the user to judge.
        if (!result) return false;
        await stream.finish(result.text);
        return true;
      },
    );
    if (ok && !doc.isUntitled) await doc.save();
    return doc.uri;
  } catch (e) {
    neox.showError(`Generate file failed: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  } finally {
    close();
    stream.dispose();
  }
}
