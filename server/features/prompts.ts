/**
 * The prompt files (server/prompt-files.ts): the workspace folders' .neox/snippets/ add to or replace
 * the built-in ones, re-read when they change. A workspace file that cannot be used is shown to the
 * user once (window/showMessage) and logged, naming the file; the built-in prompt is used instead.
 * Also answers what "explain" asks about a selection.
 */
import { MessageType, ShowMessageNotification, type Connection } from 'vscode-languageserver/node';
import { ExplainQuestionRequest } from '../../protocol/index';
import { explainQuestion } from '../context/templates';
import { promptFiles } from '../prompt-files';
import { toResponseError } from '../requests';
import type { ServerDeps } from '../services';

export function register(connection: Connection, deps: ServerDeps): void {
  const report = (message: string) => {
    connection.console.warn(message);
    // A notification (not window/showMessageRequest): nothing to answer, the editor shows it as a warning.
    void connection.sendNotification(ShowMessageNotification.type, { type: MessageType.Warning, message: `NeoX: ${message}` }).catch(() => undefined);
  };
  promptFiles.configure(deps.folders.dirs, report);
  deps.folders.onChange(() => promptFiles.configure(deps.folders.dirs, report));
  connection.onRequest(ExplainQuestionRequest, (p) => {
    try {
      return { question: explainQuestion(typeof p?.languageId === 'string' ? p.languageId : '', typeof p?.fileName === 'string' ? p.fileName : '') };
    } catch (e) {
      throw toResponseError(e);
    }
  });
}
