/**
 * The streaming requests: code from a comment, a new file, chat. Each streams neox/stream deltas
 * and answers with the final result; $/cancelRequest stops it between two tokens.
 */
import { ErrorCodes, LSPErrorCodes, ResponseError, type CancellationToken, type Connection } from 'vscode-languageserver/node';
import { chat, generateFile, generateFromComment, type GenerateDeps } from '../generate';
import { ChatRequest, GenerateFileRequest, GenerateFromCommentRequest, StreamNotification } from '../../protocol/index';
import { checkPosition, documentOrError, signalOf, toResponseError } from '../requests';
import { CHAT_CHUNKS, namesWorkspaceCode } from '../index/chat-sources';
import type { ServerDeps } from '../services';

export function register(connection: Connection, deps: ServerDeps): void {
  const streaming = <T>(streamId: string, token: CancellationToken, fn: (d: GenerateDeps) => Promise<T>) => stream(connection, deps, streamId, token, fn);

  connection.onRequest(GenerateFromCommentRequest, async (p, token) => {
    const doc = documentOrError(deps.documents, p.textDocument?.uri);
    checkPosition(doc, p.position);
    return streaming(p.streamId, token, (d) =>
      generateFromComment({ uri: doc.uri, path: deps.pathOf(doc.uri), languageId: doc.languageId, text: doc.getText() }, p.position.line, d),
    );
  });
  connection.onRequest(GenerateFileRequest, (p, token) => streaming(p.streamId, token, (d) => generateFile(p, d)));
  connection.onRequest(ChatRequest, (p, token) => streaming(p.streamId, token, (d) => chat(p, d)));
}

async function stream<T>(
  connection: Connection,
  deps: ServerDeps,
  streamId: string,
  token: CancellationToken,
  fn: (d: GenerateDeps) => Promise<T>,
): Promise<T> {
  if (typeof streamId !== 'string' || !streamId) throw new ResponseError(ErrorCodes.InvalidParams, 'streamId must be a non-empty string');
  try {
    const { backend, info } = await deps.ready();
    const signal = signalOf(token);
    const settings = deps.settings.current;
    // A backend that runs one generation at a time would make this request wait for the
    // suggestion being generated; the user asked for this one, so the suggestion goes.
    if (info.serializesGenerations) deps.completions.cancelOutdated();
    const out = await deps.activity.run(() =>
      fn({
        backend,
        info,
        maxTokens: settings.maxTokens,
        temperature: settings.temperature,
        chatFormat: settings.chatFormat,
        countTokens: (t) => backend.countTokens(t),
        signal,
        emit: (delta) => void connection.sendNotification(StreamNotification, { streamId, delta }).catch(() => undefined),
        related: async (question) => (namesWorkspaceCode(question) ? deps.workspace.forQuestion(question, CHAT_CHUNKS) : []),
      }),
    );
    if (out === undefined) throw new ResponseError(LSPErrorCodes.RequestCancelled, 'cancelled');
    return out;
  } catch (e) {
    throw toResponseError(e);
  }
}
