/** What every request handler needs: one-line errors, documents and positions checked, LSP cancellation as an AbortSignal. */
import { ErrorCodes, ResponseError, type CancellationToken, type Position, type TextDocuments } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { NeoxError } from '../engine/types';

/** Every failure a client sees is a ResponseError with one clear line. */
export function toResponseError(e: unknown): ResponseError<void> {
  if (e instanceof ResponseError) return e;
  if (e instanceof NeoxError) return new ResponseError(ErrorCodes.InternalError, e.message);
  const msg = e instanceof Error ? e.message : String(e);
  return new ResponseError(ErrorCodes.InternalError, `NeoX Complete server error: ${msg}`);
}

export function documentOrError(documents: TextDocuments<TextDocument>, uri: string): TextDocument {
  const doc = documents.get(uri);
  if (!doc) throw new ResponseError(ErrorCodes.InvalidParams, `unknown document ${uri}: send textDocument/didOpen first`);
  return doc;
}

/** The offset of `pos` in `doc`; an InvalidParams error when it is not inside it. */
export function checkPosition(doc: TextDocument, pos: Position): number {
  const bad = () =>
    new ResponseError(
      ErrorCodes.InvalidParams,
      `position ${pos?.line}:${pos?.character} is outside ${doc.uri} (${doc.lineCount} lines)`,
    );
  if (!pos || !Number.isInteger(pos.line) || !Number.isInteger(pos.character) || pos.line < 0 || pos.character < 0) throw bad();
  if (pos.line >= doc.lineCount) throw bad();
  const lineStart = doc.offsetAt({ line: pos.line, character: 0 });
  const lineEnd = pos.line + 1 < doc.lineCount ? doc.offsetAt({ line: pos.line + 1, character: 0 }) : doc.getText().length;
  const lineText = doc.getText().slice(lineStart, lineEnd).replace(/\r?\n$/, '');
  if (pos.character > lineText.length) throw bad();
  return lineStart + pos.character;
}

export function signalOf(token: CancellationToken): AbortSignal {
  const ctl = new AbortController();
  if (token.isCancellationRequested) ctl.abort();
  else token.onCancellationRequested(() => ctl.abort());
  return ctl.signal;
}
