/** The test-only methods (protocol/debug.ts) exist only when the initialize request asks for them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DebugInFlightRequest, DebugLastCompletionRequest } from '../../protocol/debug';
import { startServer } from './lsp-harness';

test('a server started without initializationOptions.testHooks does not answer neox/debug/*; with it, it does', async () => {
  const production = await startServer({}, { testHooks: false });
  try {
    // -32601: MethodNotFound, what LSP answers for a method nobody registered.
    const notFound = (e: { code?: number }) => e.code === -32601;
    await assert.rejects(production.conn.sendRequest(DebugInFlightRequest), notFound, DebugInFlightRequest.method);
    await assert.rejects(production.conn.sendRequest(DebugLastCompletionRequest), notFound, DebugLastCompletionRequest.method);
  } finally {
    await production.close();
  }
  const tested = await startServer();
  try {
    assert.deepEqual(await tested.conn.sendRequest(DebugInFlightRequest), { inFlight: 0, lockRunning: 0 });
  } finally {
    await tested.close();
  }
});
