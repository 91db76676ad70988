// neox serve admission by cost (issue 12): max_tokens x n against a per-request limit (400), the prompt
// against the context before queueing (400), the tokens of work in flight against the server's limit
// (429), and with several API keys each key's own share of requests and tokens (429), each answer
// naming the limit. The backend is a stand-in whose generations the test holds open; its tokenizer
// counts one token per character.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatRecord } from '../../engine/serve/context';
import type { CompletionResult } from '../../engine/types';
import { call, fakeBackend, result, serveFake, waitUntil, type Fake } from './serve-fakes';

/** A backend whose generations wait until `release()`; `started` counts those that began. */
function heldBackend(contextLength = 2048): Fake & { release(): void; started: number } {
  const fake = fakeBackend(contextLength) as Fake & { release(): void; started: number };
  let open: (() => void)[] = [];
  fake.started = 0;
  fake.release = () => {
    for (const r of open) r();
    open = [];
  };
  fake.script = async (req, onChunk) => {
    fake.started++;
    await new Promise<void>((r) => {
      open.push(r);
      req.signal?.addEventListener('abort', () => r(), { once: true });
    });
    onChunk?.({ index: 0, text: 'ok' });
    return result('ok', 1) as CompletionResult;
  };
  return fake;
}

const post = (url: string, body: object, key?: string) =>
  call(url, 'POST', '/v1/completions', { body, headers: key ? { authorization: `Bearer ${key}` } : {} });

test('max_tokens x n past the per-request limit: 400 naming it, and nothing reaches the engine', { timeout: 10_000 }, async () => {
  const fake = fakeBackend(2048);
  const { serve } = await serveFake(fake, { maxRequestTokens: 1000 });
  const a = await post(serve.url, { prompt: 'x', max_tokens: 600, n: 2 });
  assert.equal(a.status, 400);
  assert.equal(a.json.error.param, 'max_tokens');
  assert.match(a.json.error.message, /600 x 2 = 1200 tokens.*at most 1000 .*--max-request-tokens/);
  // The default is 4 x the context: n = 16 x 2047 tokens (the stall) is refused too.
  const { serve: byDefault } = await serveFake(fake);
  const b = await post(byDefault.url, { prompt: 'x', max_tokens: 2047, n: 16 });
  assert.equal(b.status, 400);
  assert.match(b.json.error.message, /32752 tokens.*at most 8192/);
  assert.equal(fake.calls.length, 0);
  const ok = await post(serve.url, { prompt: 'x', max_tokens: 500, n: 2 });
  assert.equal(ok.status, 200);
});

test('a prompt longer than the context in tokens: 400 at once, even while the server is busy', { timeout: 10_000 }, async () => {
  const fake = heldBackend(100);
  const { serve } = await serveFake(fake, { concurrency: 1 });
  const running = post(serve.url, { prompt: 'a', max_tokens: 5 });
  await waitUntil(() => fake.started === 1, 'the first generation');
  const long = await post(serve.url, { prompt: 'y'.repeat(150), max_tokens: 5 });
  assert.equal(long.status, 400);
  assert.equal(long.json.error.param, 'prompt');
  assert.match(long.json.error.message, /prompt is 150 tokens; the model's context holds 100/);
  fake.release();
  assert.equal((await running).status, 200);
});

test('tokens in flight past the server limit: 429 naming it with Retry-After; smaller work still queues; a lone big request runs', { timeout: 10_000 }, async () => {
  const fake = heldBackend();
  const { serve, records } = await serveFake(fake, { concurrency: 1, maxQueue: 8, maxTokensInFlight: 500 });
  const first = post(serve.url, { prompt: 'a', max_tokens: 300 }); // 1 + 300 tokens
  await waitUntil(() => fake.started === 1, 'the first generation');
  const big = await post(serve.url, { prompt: 'b', max_tokens: 300 });
  assert.equal(big.status, 429);
  assert.equal(big.headers['retry-after'], '1');
  assert.match(big.json.error.message, /301 tokens of work running or queued; this request's 301 would pass the limit of 500 \(--max-tokens-in-flight\)/);
  const small = post(serve.url, { prompt: 'c', max_tokens: 100 }); // fits: 301 + 101
  await waitUntil(() => serve.stats().queued === 1, 'the small request queued');
  fake.release();
  assert.equal((await first).status, 200);
  await waitUntil(() => fake.started === 2, 'the queued request running');
  fake.release();
  assert.equal((await small).status, 200);
  assert.equal(serve.stats().rejectedOverLimit, 1);
  assert.ok(records.some((r) => r.status === 429 && /--max-tokens-in-flight/.test(r.error ?? '')));
  // Nothing in flight: a request bigger than the in-flight limit alone still runs.
  const lone = post(serve.url, { prompt: 'd', max_tokens: 600 });
  await waitUntil(() => fake.started === 3, 'the lone big request running');
  fake.release();
  assert.equal((await lone).status, 200);
});

test('several API keys: each has its own request and token share; one key at its limit does not stop another', { timeout: 10_000 }, async () => {
  const fake = heldBackend();
  const { serve, records } = await serveFake(fake, { apiKeys: ['key-one', 'key-two'], concurrency: 1, maxQueue: 8, keyMaxRequests: 2, keyMaxTokens: 500 });
  const a1 = post(serve.url, { prompt: 'a', max_tokens: 100 }, 'key-one');
  await waitUntil(() => fake.started === 1, 'the first generation');
  const a2 = post(serve.url, { prompt: 'a', max_tokens: 100 }, 'key-one');
  await waitUntil(() => serve.stats().queued === 1, 'the second request of key one queued');
  const a3 = await post(serve.url, { prompt: 'a', max_tokens: 10 }, 'key-one');
  assert.equal(a3.status, 429);
  assert.match(a3.json.error.message, /this API key has 2 requests running or queued \(limit 2 per key, --key-max-requests\)/);
  const b1 = post(serve.url, { prompt: 'b', max_tokens: 300 }, 'key-two');
  await waitUntil(() => serve.stats().queued === 2, 'key two queued beside key one');
  const b2 = await post(serve.url, { prompt: 'b', max_tokens: 300 }, 'key-two');
  assert.equal(b2.status, 429);
  assert.match(b2.json.error.message, /this API key has 301 tokens of work running or queued; this request's 301 would pass its limit of 500 \(--key-max-tokens\)/);
  assert.equal((await post(serve.url, { prompt: 'x', max_tokens: 1 }, 'key-three')).status, 401);
  for (let i = 1; i <= 3; i++) {
    fake.release();
    await waitUntil(() => fake.started >= Math.min(i + 1, 3), `generation ${i + 1}`);
  }
  fake.release();
  assert.deepEqual((await Promise.all([a1, a2, b1])).map((x) => x.status), [200, 200, 200]);
  // The log names the key by number, never the key itself.
  const lines = records.map((r) => formatRecord(r));
  assert.ok(lines.some((l) => / 200 .*key=1 /.test(l)) && lines.some((l) => / 200 .*key=2 /.test(l)), lines.join('\n'));
  assert.ok(!lines.join('\n').includes('key-one'));
});

test('one API key: no per-key limits, the server limits alone', { timeout: 10_000 }, async () => {
  const fake = heldBackend();
  const { serve, records } = await serveFake(fake, { apiKey: 'only', concurrency: 1, maxQueue: 8, keyMaxRequests: 1 });
  const a = post(serve.url, { prompt: 'a', max_tokens: 5 }, 'only');
  await waitUntil(() => fake.started === 1, 'the first generation');
  const b = post(serve.url, { prompt: 'a', max_tokens: 5 }, 'only');
  await waitUntil(() => serve.stats().queued === 1, 'the second request queued, not refused');
  fake.release();
  await waitUntil(() => fake.started === 2, 'the second generation');
  fake.release();
  assert.deepEqual([(await a).status, (await b).status], [200, 200]);
  assert.equal(records[0]!.key, undefined);
});
