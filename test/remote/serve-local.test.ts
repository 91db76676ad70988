// The real `neox serve` (child process, default model, fp32) on a loopback port, driven through
// the OpenAI adapter: same greedy text as the local engine in-process, streaming and not, for
// completions and chat; auth (401), a full queue (429), size limit (413), client disconnect
// stopping the generation (seen in the server's own log), graceful SIGTERM.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalBackend, type LocalBackend } from '../../engine/local/local-backend';
import { createRemoteBackend } from '../../engine/remote/index';
import { NeoxError, type CompletionBackend } from '../../engine/types';
import { defaultModel, startServeProcess, type ServeProcess } from './serve-process';

const KEY = 'team-secret-1';
let serve: ServeProcess;
let local: LocalBackend;
let remote: CompletionBackend;

before(async () => {
  local = createLocalBackend({ modelDir: defaultModel, quant: 'fp32' });
  await local.load();
  // Batches of 2 and a queue of 1: with two requests generating and one waiting, the fourth is refused.
  serve = await startServeProcess(['--quant', 'fp32', '--api-key', KEY, '--batch', '2', '--max-queue', '1']);
  remote = createRemoteBackend({ kind: 'openai', url: serve.url, model: 'neox-code-23m', apiKey: KEY });
});

after(async () => {
  await remote?.dispose();
  await local?.dispose();
  await serve?.stop();
});

const prompt = 'def is_prime(n):\n    """Return True if n is prime."""\n';
const greedy = { maxTokens: 24, temperature: 0 };

test('/v1/models through the adapter: the served model and its context', async () => {
  const info = await remote.load();
  assert.equal(info.id, 'neox-code-23m');
  assert.equal(info.contextLength, 2048);
  assert.deepEqual(await remote.health(), { ok: true, message: `neox-code-23m at ${serve.url} (OpenAI API)` });
});

test('completions, non-streaming and streaming: the same greedy text as the local engine', async () => {
  const want = await local.complete({ prompt, ...greedy });
  assert.ok(want.choices[0].text.length > 0);
  const whole = await remote.complete({ prompt, ...greedy });
  assert.equal(whole.choices[0].text, want.choices[0].text);
  assert.equal(whole.choices[0].finishReason, want.choices[0].finishReason);
  assert.deepEqual(whole.usage, want.usage);
  const chunks: string[] = [];
  const streamed = await remote.complete({ prompt, ...greedy }, (c) => chunks.push(c.text));
  assert.equal(streamed.choices[0].text, want.choices[0].text);
  assert.ok(chunks.length > 1, 'streamed in several chunks');
  assert.equal(chunks.join(''), want.choices[0].text);
  assert.deepEqual(streamed.usage, want.usage);
});

test('concurrent requests are batched on the server and each gets the text it would get alone', async () => {
  const prompts = [prompt, 'import os\nfor name in os.listdir(".")', 'class Stack:\n    def __init__(self):\n', '// sum of a list\nfunction sum(xs) {\n'];
  const stops = [undefined, ['\n\n'], undefined, ['}']];
  const opts = prompts.map((p, i) => ({ prompt: p, maxTokens: 8 + 4 * i, temperature: 0, stop: stops[i] }));
  const want: string[] = [];
  for (const o of opts) want.push((await local.complete(o)).choices[0].text);
  // Streaming and not, mixed: batching is the engine's business, the wire format does not change.
  const got = await Promise.all(opts.map((o, i) => (i % 2 ? remote.complete(o, () => {}) : remote.complete(o))));
  assert.deepEqual(
    got.map((r) => r.choices[0].text),
    want,
  );
});

test('a stop string ends the completion the same way on both sides', async () => {
  const opts = { prompt, maxTokens: 48, temperature: 0, stop: ['\n\n', 'return'] };
  const want = await local.complete(opts);
  const got = await remote.complete(opts, () => {});
  assert.equal(got.choices[0].text, want.choices[0].text);
  assert.equal(got.choices[0].finishReason, want.choices[0].finishReason);
});

test('chat, non-streaming and streaming: the same greedy text as the local engine', async () => {
  const messages = [{ role: 'user' as const, content: 'Write a Python function that reverses a string.' }];
  const want = await local.chat({ messages, ...greedy });
  const whole = await remote.chat({ messages, ...greedy });
  assert.equal(whole.choices[0].text, want.choices[0].text);
  const chunks: string[] = [];
  const streamed = await remote.chat({ messages, ...greedy }, (c) => chunks.push(c.text));
  assert.equal(streamed.choices[0].text, want.choices[0].text);
  assert.equal(chunks.join(''), want.choices[0].text);
});

test('a wrong or missing key gets 401', async () => {
  for (const apiKey of ['wrong', undefined]) {
    const b = createRemoteBackend({ kind: 'openai', url: serve.url, apiKey });
    await assert.rejects(b.load(), (e: unknown) => e instanceof NeoxError && e.code === 'unauthorized' && /401/.test(e.message));
    await b.dispose();
  }
  const res = await fetch(`${serve.url}/v1/completions`, { method: 'POST', headers: { authorization: 'Bearer wrong' }, body: '{}' });
  assert.equal(res.status, 401);
  assert.match(((await res.json()) as { error: { message: string } }).error.message, /API key/);
});

test('a full queue answers 429 with Retry-After (and the adapter reports it after its retries)', async () => {
  const long = { prompt, maxTokens: 400, temperature: 0 };
  const ac = new AbortController();
  // Two generating (one batch), one queued: the queue (1) is full.
  const running = [0, 1].map(() => remote.complete({ ...long, signal: ac.signal }, () => {}));
  const queued = remote.complete({ ...long, signal: ac.signal }, () => {});
  // Wait until the server reports them (GET /health shows its load).
  for (let health: { running: number; queued: number } | undefined; !(health?.running === 2 && health.queued === 1); ) {
    await new Promise((r) => setTimeout(r, 20));
    health = (await (await fetch(`${serve.url}/health`)).json()) as { running: number; queued: number };
  }
  const res = await fetch(`${serve.url}/v1/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'x', max_tokens: 4 }),
  });
  assert.equal(res.status, 429);
  assert.equal(res.headers.get('retry-after'), '1');
  assert.match(((await res.json()) as { error: { message: string } }).error.message, /server busy: 2 running and 1 queued/);
  const impatient = createRemoteBackend({ kind: 'openai', url: serve.url, apiKey: KEY, maxRetries: 0 });
  await assert.rejects(impatient.complete({ prompt: 'x', maxTokens: 4 }), (e: unknown) => e instanceof NeoxError && e.code === 'rate_limited' && /429/.test(e.message));
  await impatient.dispose();
  ac.abort();
  for (const r of running) assert.equal((await r).choices[0].finishReason, 'cancelled');
  assert.equal((await queued).choices[0].finishReason, 'cancelled');
});

test('a client that disconnects mid-stream stops the generation (server log: finish=cancelled)', async () => {
  const ac = new AbortController();
  let chunks = 0;
  const logFrom = serve.log.length;
  const r = await remote.complete({ prompt: 'import os\n', maxTokens: 1500, temperature: 0, signal: ac.signal }, () => {
    if (++chunks === 5) ac.abort();
  });
  assert.equal(r.choices[0].finishReason, 'cancelled');
  const line = await serve.waitFor(/POST \/v1\/completions 200 stream finish=cancelled tokens=\d+\/1500/, 10000);
  assert.ok(serve.log.indexOf(line) >= logFrom);
  const generated = Number(/tokens=(\d+)\//.exec(line)![1]);
  assert.ok(generated < 100, `the server stopped after ${generated} of 1500 tokens`);
  // The engine is free again at once: a short request completes.
  const next = await remote.complete({ prompt: 'x = ', maxTokens: 2, temperature: 0 });
  assert.equal(next.choices[0].finishReason, 'length');
});

test('bad requests: 413 for a too-large body, 400 naming the field, 404 for an unknown model', async () => {
  const post = (body: string) =>
    fetch(`${serve.url}/v1/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body });
  const big = await post(JSON.stringify({ prompt: 'x'.repeat(2 * 1024 * 1024), max_tokens: 1 }));
  assert.equal(big.status, 413);
  const badField = await post(JSON.stringify({ prompt: 'x', max_tokens: -3 }));
  assert.equal(badField.status, 400);
  assert.match(((await badField.json()) as { error: { message: string; param: string } }).error.message, /"max_tokens" must be an integer/);
  const notJson = await post('{"prompt": ');
  assert.equal(notJson.status, 400);
  const wrongModel = await post(JSON.stringify({ prompt: 'x', model: 'gpt-4' }));
  assert.equal(wrongModel.status, 404);
  // The server is still fine afterwards.
  assert.equal((await remote.complete({ prompt: 'y', maxTokens: 1 })).choices.length, 1);
});

test('SIGTERM: the running stream finishes, then the server exits 0 and refuses new connections', async () => {
  const chunks: string[] = [];
  const inflight = remote.complete({ prompt, maxTokens: 64, temperature: 0 }, (c) => {
    chunks.push(c.text);
    if (chunks.length === 1) serve.child.kill('SIGTERM');
  });
  const r = await inflight;
  assert.equal(r.choices[0].finishReason, 'length');
  assert.equal(r.usage.completionTokens, 64);
  assert.equal(await serve.exited, 0);
  assert.ok(serve.log.some((l) => /SIGTERM: finishing 1 request/.test(l)), serve.log.join('\n'));
  const after = createRemoteBackend({ kind: 'openai', url: serve.url, apiKey: KEY });
  await assert.rejects(after.health().then((h) => (h.ok ? undefined : Promise.reject(new Error(h.message)))), /Connection refused/);
  await after.dispose();
});
