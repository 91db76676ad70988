/** Test and benchmark hooks (protocol/debug.ts): how the last inline request was answered, what runs now, memory. */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import type { Connection } from 'vscode-languageserver/node';
import { DebugInFlightRequest, DebugLastCompletionRequest, DebugMemoryRequest } from '../../protocol/debug';
import type { ServerDeps } from '../services';

/** A full garbage collection, where V8 lets us have one (test hooks only: exposes gc to a fresh context). */
function collectGarbage(): boolean {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (() => void) | undefined;
    if (typeof gc !== 'function') return false;
    gc();
    return true;
  } catch {
    return false;
  }
}

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
  connection.onRequest(DebugMemoryRequest, (p) => {
    const collected = p?.gc ? collectGarbage() : false;
    const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
    return { rss, heapTotal, heapUsed, external, arrayBuffers, collected };
  });
}
