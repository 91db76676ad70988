/** Test and benchmark hooks (protocol/debug.ts): how the last inline request was answered, what runs now. */
import type { Connection } from 'vscode-languageserver/node';
import { DebugInFlightRequest, DebugLastCompletionRequest } from '../../protocol/debug';
import type { ServerDeps } from '../services';

export function register(connection: Connection, { completions, activity, init }: ServerDeps): void {
  // Only a test harness or benchmark asks for these; a production server does not answer them.
  if (!init.testHooks) return;
  connection.onRequest(DebugLastCompletionRequest, () => {
    const a = completions.last;
    if (!a) return {};
    const { source, latencyMs, promptTokens, promptTokensReused, multiline, finishReasons } = a;
    return { source, latencyMs, promptTokens, promptTokensReused, multiline, finishReasons };
  });
  // lockRunning: every generation running on the backend (inline and streaming).
  connection.onRequest(DebugInFlightRequest, () => ({ inFlight: completions.inFlight, lockRunning: activity.running }));
}
