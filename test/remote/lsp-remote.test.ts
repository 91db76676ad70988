// The language server with a remote (OpenAI-kind) backend pointed at a scripted vLLM: a good
// answer becomes an inline item; 500, a cut stream, invalid JSON and a dead server each reject the
// request with a clear error naming the cause — never an empty answer, never the partial text —
// and the server keeps serving.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type Harness } from '../server/lsp-harness';
import { DONE, json, sleep, sseHead, startScripted, vllmCompletionChunk, vllmError, vllmModels, type Scripted } from './scripted-server';

let mode = 'ok';
let srv: Scripted;
let h: Harness;
const uri = 'file:///work/project/calc.py';
const text = 'def add(a, b):\n    ';
const at = { line: 1, character: 4 };

before(async () => {
  srv = await startScripted(async (req, res) => {
    if (req.path === '/v1/models') return json(res, 200, vllmModels());
    const streaming = req.body.stream === true;
    const piece = (t: string, finish: string | null = null) => (streaming ? res.write(vllmCompletionChunk(0, t, finish)) : undefined);
    if (mode === '500') return json(res, 500, vllmError('CUDA error: an illegal memory access was encountered', 500));
    if (!streaming) {
      return json(res, 200, { id: 'c', object: 'text_completion', created: 1, model: 'm', choices: [{ index: 0, text: mode === 'ok' ? '    return a + b\n' : 'PARTIAL', finish_reason: 'stop', stop_reason: null }] });
    }
    sseHead(res);
    if (mode === 'ok') {
      piece('    return');
      piece(' a + b\n', 'stop');
      return void res.end(DONE);
    }
    piece('    PARTIAL');
    if (mode === 'badjson') return void res.end('data: {"choices": [\n\n' + DONE);
    await sleep(20);
    res.socket!.destroy(); // cut
  });
  h = await startServer({ backend: 'openai', remoteUrl: srv.url, remoteModel: '' });
  await h.conn.sendNotification('neox/setSecrets', { apiKey: 'sk-lsp' });
  await h.open(uri, 'python', text);
});

after(async () => {
  await h?.close();
  await srv?.close();
});

/** An inline request that failed: rejected with an LSP error naming the server and matching `re` (so no partial text reached the editor). */
async function failsCleanly(re: RegExp): Promise<void> {
  const r = await h.inline(uri, at, { invoked: true }).then(
    (list) => ({ list }),
    (e: { message: string; code?: number }) => ({ error: e.message, code: e.code }),
  );
  assert.ok('error' in r, `expected an error, got ${JSON.stringify(r)}`);
  assert.match(r.error, re);
  assert.ok(r.error.includes(srv.url), `the message names the server: ${r.error}`);
  assert.equal(r.code, -32603, 'an internal error, not a cancellation');
  assert.equal(h.child.exitCode, null, 'the language server is still running');
}

test('a good answer from the remote server becomes the inline item; the key is sent', async () => {
  await h.waitReady(20000);
  const r = await h.inline(uri, at, { invoked: true });
  const texts = (r?.items ?? []).map((i) => (typeof i.insertText === 'string' ? i.insertText : i.insertText.value));
  // Every candidate is the scripted answer, post-processed (the cursor's indentation taken off).
  assert.ok(texts.length > 0);
  for (const t of texts) assert.equal(t, 'return a + b');
  const sent = srv.requests.filter((x) => x.path === '/v1/completions');
  assert.ok(sent.length > 0);
  assert.equal(sent.at(-1)!.headers.authorization, 'Bearer sk-lsp');
});

test('500, a cut stream and invalid JSON: clear errors, no partial text, the server keeps serving', async () => {
  // Each case must reach the network: change the document so no cache answers.
  let v = 0;
  for (const [m, re] of [
    ['500', /illegal memory access/],
    ['cut', /cut off|closed the connection/],
    ['badjson', /malformed stream data/],
  ] as const) {
    mode = m;
    await h.change(uri, `# ${m} ${v++}\n${text}`);
    await failsCleanly(re);
  }
  mode = 'ok';
  await h.change(uri, `# ok\n${text}`);
  const r = await h.inline(uri, { line: 2, character: 4 }, { invoked: true });
  const texts = (r?.items ?? []).map((i) => (typeof i.insertText === 'string' ? i.insertText : i.insertText.value));
  assert.ok(texts.length > 0, 'works again once the server answers');
  for (const t of texts) assert.equal(t, 'return a + b');
});

test('the remote server going away: requests fail with connection refused, the server keeps running', async () => {
  await srv.close();
  await h.change(uri, `# down\n${text}`);
  await failsCleanly(/Connection refused/);
  assert.equal(h.child.exitCode, null);
});
