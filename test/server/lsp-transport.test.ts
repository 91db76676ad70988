// The client may launch the server over IPC (`--node-ipc`) instead of stdio: both answer initialize
// with the inline-completion capability.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { createMessageConnection, IPCMessageReader, IPCMessageWriter } from 'vscode-languageserver-protocol/node';
import { ROOT, startServer } from './lsp-harness';

test('--node-ipc: initialize over IPC advertises inlineCompletionProvider', async () => {
  const child = fork(join(ROOT, 'server/server.ts'), ['--node-ipc'], { cwd: ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  const conn = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
  conn.listen();
  try {
    const r = await conn.sendRequest<{ capabilities: { inlineCompletionProvider?: unknown; textDocumentSync?: unknown } }>('initialize', {
      processId: process.pid,
      rootUri: null,
      capabilities: {},
    });
    assert.equal(r.capabilities.inlineCompletionProvider, true);
    // Incremental changes, and saves (the workspace index reads a saved file again).
    assert.deepEqual(r.capabilities.textDocumentSync, { openClose: true, change: 2, save: { includeText: false } });
    await conn.sendRequest('shutdown');
    await conn.sendNotification('exit');
  } finally {
    conn.dispose();
    if (child.exitCode === null) child.kill();
  }
});

test('--stdio with completions disabled: getStatus answers without loading a model', async () => {
  const h = await startServer({ enabled: false });
  try {
    const s = await h.conn.sendRequest<{ state: string }>('neox/getStatus');
    assert.ok(['starting', 'disabled'].includes(s.state), s.state);
  } finally {
    await h.close();
  }
});
