/** Ghost text: LSP 3.18 textDocument/inlineCompletion, fed by the open documents. */
import { LSPErrorCodes, ResponseError, type Connection, type InlineCompletionItem } from 'vscode-languageserver/node';
import { INLINE_ACCEPTED_COMMAND } from '../../protocol/index';
import { checkPosition, documentOrError, signalOf, toResponseError } from '../requests';
import type { ServerDeps } from '../services';
import { languageEnabled } from '../settings';

export function register(connection: Connection, deps: ServerDeps): void {
  const { documents, completions } = deps;
  documents.onDidOpen((e) => completions.openDocument(e.document.uri, deps.pathOf(e.document.uri), e.document.getText()));
  documents.onDidChangeContent(() => completions.cancelOutdated());
  documents.onDidClose((e) => completions.forgetDocument(e.document.uri));

  connection.languages.inlineCompletion.on(async (params, token) => {
    try {
      const doc = documentOrError(documents, params.textDocument.uri);
      const offset = checkPosition(doc, params.position);
      if (!languageEnabled(deps.settings.current, doc.languageId)) return { items: [] };
      const answer = await completions.complete(
        {
          uri: doc.uri,
          path: deps.pathOf(doc.uri),
          languageId: doc.languageId,
          text: doc.getText(),
          offset,
          invoked: params.context?.triggerKind === 1,
        },
        signalOf(token),
      );
      // Cancelled by the client, or superseded by a newer request: LSP's RequestCancelled.
      if (answer.source === 'cancelled') throw new ResponseError(LSPErrorCodes.RequestCancelled, 'cancelled: a newer request or $/cancelRequest');
      deps.status.set({ lastLatencyMs: Math.round(answer.latencyMs) });
      const range = { start: params.position, end: params.position };
      const items: InlineCompletionItem[] = answer.texts.map((insertText) => ({
        insertText,
        range,
        command: { title: 'NeoX Complete: accepted', command: INLINE_ACCEPTED_COMMAND, arguments: [answer.completionId] },
      }));
      return { items };
    } catch (e) {
      throw toResponseError(e);
    }
  });
}
