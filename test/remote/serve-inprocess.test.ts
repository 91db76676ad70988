// engine/serve in-process over the real local engine (default model, fp32): what the CLI test
// cannot reach easily — the request records, port conflicts, shutdown with a short grace,
// queued clients leaving, non-streaming disconnects, n and seed passing through.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalBackend, type LocalBackend } from '../../engine/local/local-backend';
import { createRemoteBackend } from '../../engine/remote/index';
import { startServe, type ServeHandle } from '../../engine/serve/server';
import type { RequestRecord } from '../../engine/serve/context';
import { NeoxError } from '../../engine/types';
import { defaultModel } from './serve-process';

let local: LocalBackend;
let serve: ServeHandle;
const records: RequestRecord[] = [];

before(async () => {
  local = createLocalBackend({ modelDir: defaultModel, quant: 'fp32' });
  serve = await startServe(local, { port: 0, modelName: 'neox-code-23m', onRequest: (r) => records.push(r) });
});

after(async () => {
  await serve?.close();
  await local?.dispose();
});

const waitUntil = async (cond: () => boolean | Promise<boolean>, what: string) => {
  for (let i = 0; i < 500; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
};

test('a second server on the same port fails with a clear error', async () => {
  await assert.rejects(
    startServe(local, { port: serve.port }),
    (e: unknown) => e instanceof NeoxError && e.code === 'listen_failed' && e.message.includes(`:${serve.port}`) && /port is in use/.test(e.message),
  );
});

test('n=2 with a seed: two samples, reproducible', async () => {
  const b = createRemoteBackend({ kind: 'openai', url: serve.url });
  const req = { prompt: 'def add(a, b):', maxTokens: 12, temperature: 0.9, topK: 40, n: 2, seed: 1234 };
  const one = await b.complete(req);
  const two = await b.complete(req, () => {});
  assert.equal(one.choices.length, 2);
  assert.deepEqual(
    two.choices.map((c) => c.text),
    one.choices.map((c) => c.text),
  );
  const direct = await local.complete(req);
  assert.deepEqual(
    one.choices.map((c) => c.text),
    direct.choices.map((c) => c.text),
  );
  await b.dispose();
});

test('a queued client that leaves gives up its place; a non-streaming client that leaves stops its generation', async () => {
  const b = createRemoteBackend({ kind: 'openai', url: serve.url });
  const first = new AbortController();
  const second = new AbortController();
  const running = b.complete({ prompt: 'class Stack:', maxTokens: 1500, temperature: 0, signal: first.signal });
  await waitUntil(() => serve.stats().running === 1, 'the first request to run');
  const queued = b.complete({ prompt: 'class Queue:', maxTokens: 1500, temperature: 0, signal: second.signal });
  await waitUntil(() => serve.stats().queued === 1, 'the second request to queue');
  second.abort();
  assert.equal((await queued).choices[0].finishReason, 'cancelled');
  await waitUntil(() => serve.stats().queued === 0, 'the queue to empty');
  first.abort();
  assert.equal((await running).choices[0].finishReason, 'cancelled');
  await waitUntil(() => records.filter((r) => r.finishReason === 'cancelled').length >= 2, 'both records');
  const gen = records.find((r) => r.maxTokens === 1500 && r.finishReason === 'cancelled' && r.completionTokens !== undefined)!;
  assert.ok(gen, JSON.stringify(records));
  assert.equal(gen.stream, false);
  assert.ok(gen.completionTokens! < 1500, `stopped after ${gen.completionTokens} tokens`);
  await waitUntil(() => serve.stats().running === 0, 'the engine to be free');
  await b.dispose();
});

test('shutdown with a short grace aborts a long stream: the client gets an error, not a result', async () => {
  const own = await startServe(local, { port: 0, shutdownGraceMs: 200 });
  const b = createRemoteBackend({ kind: 'openai', url: own.url });
  let chunks = 0;
  let closing: Promise<void> | undefined;
  const t0 = Date.now();
  const p = b.complete({ prompt: 'import sys\n', maxTokens: 1500, temperature: 0 }, () => {
    if (++chunks === 2) closing = own.close();
  });
  await assert.rejects(p, (e: unknown) => e instanceof NeoxError && e.code === 'server_error' && /server shut down before the generation finished/.test(e.message));
  await closing;
  assert.ok(Date.now() - t0 < 10000);
  assert.equal(own.stats().cancelled, 1);
  await b.dispose();
});
