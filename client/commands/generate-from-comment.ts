/**
 * "NeoX: Generate code from comment": the comment or docstring at or above the cursor becomes an
 * implementation. The server picks the comment and the insertion point; the code streams in below the
 * cursor's line while it is generated, then lands at the server's range. One Ctrl+Z undoes it all;
 * cancelling (the progress notification's Cancel) leaves the document as it was.
 */
import * as vscode from 'vscode';
import { GenerateFromCommentRequest } from '../../protocol/index';
import { EditorStream } from '../editor-stream';
import type { NeoxClient } from '../neox-client';

export interface GenerateFromCommentArgs {
  /** Cancels like the notification's Cancel button (for other extensions and tests). */
  cancel?: vscode.CancellationToken;
}

export async function generateFromComment(neox: NeoxClient, args: GenerateFromCommentArgs = {}): Promise<vscode.Range | undefined> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showWarningMessage('NeoX Complete: open a file and put the cursor on a comment first.');
    return undefined;
  }
  const client = await neox.ready();
  const doc = editor.document;
  const position = editor.selection.active;
  const lineEnd = doc.lineAt(position.line).range.end;
  const stream = new EditorStream(editor, lineEnd, doc.eol === vscode.EndOfLine.CRLF ? '\r\n' : '\n');
  const { streamId, close } = neox.streams.open((delta) => stream.append(delta));
  try {
    return await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'NeoX Complete: generating code from comment', cancellable: true },
      async (_progress, progressToken) => {
        const cts = new vscode.CancellationTokenSource();
        progressToken.onCancellationRequested(() => cts.cancel());
        args.cancel?.onCancellationRequested(() => cts.cancel());
        if (args.cancel?.isCancellationRequested) cts.cancel();
        const token = cts.token;
        const result = await client
          .sendRequest(GenerateFromCommentRequest, { streamId, textDocument: { uri: doc.uri.toString() }, position }, token)
          .catch((e: unknown) => {
            if (token.isCancellationRequested) return undefined;
            throw e;
          });
        // The pieces sent before the answer may still be on their way into the editor (a busy editor
        // answers edits late): a cancel prompted by seeing them must count, so decide once they are in.
        await stream.settled();
        if (!result || token.isCancellationRequested || result.finishReason === 'cancelled') {
          await stream.remove();
          return undefined;
        }
        const range = client.protocol2CodeConverter.asRange(result.range);
        const placed = await stream.finish(result.text, range);
        // A cancel while the answer was being placed still means: leave the document as it was.
        if (token.isCancellationRequested) {
          await stream.remove();
          return undefined;
        }
        editor.selection = new vscode.Selection(placed.end, placed.end);
        return placed;
      },
    );
  } catch (e) {
    await stream.remove();
    neox.showError(`Generate code from comment failed: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  } finally {
    close();
    stream.dispose();
  }
}
