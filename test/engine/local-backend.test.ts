/**
 * LocalBackend + decoding against a scripted runner (no neural network): streaming, stops,
 * EOS, max tokens, sampling seeds, n samples, batches, cancellation, prefix reuse, queueing, chat.
 * The same code paths run against the real model in parity.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, copyFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalBackend } from '../../engine/local/local-backend';
import { loadTokenizer } from '../../engine/local/tokenizer';
import type { Choice, TextChunk } from '../../engine/types';
import { NeoxError } from '../../engine/types';
import { ScriptedRunner, scriptFn, noisyFn, type LogitsFn } from './helpers/scripted-runner';

const MODEL = 'models/neox-code-23m';
const tok = await loadTokenizer(MODEL);

function backendWith(fn: LogitsFn, opts: { delayMs?: number; modelDir?: string; maxBatch?: number } = {}) {
  const runner = new ScriptedRunner(fn, { delayMs: opts.delayMs });
  const backend = createLocalBackend({ modelDir: opts.modelDir ?? MODEL, quant: 'fp32', loadRunner: async () => runner, maxBatch: opts.maxBatch });
  return { runner, backend };
}

function collect() {
  const chunks: TextChunk[] = [];
  return { chunks, onChunk: (c: TextChunk) => chunks.push(c) };
}

test('streams multi-byte characters whole and ends at EOS (eos id returned, not its text)', async () => {
  const prompt = 'say:';
  const text = ' héllo 😀 世界 🇫🇷 done';
  const script = tok.encode(text);
  assert.ok(script.some((id) => tok.decode([id]).includes('\uFFFD')), 'script has tokens ending mid-character');
  const { backend } = backendWith(scriptFn([{ prompt: tok.encode(prompt), script }]));
  const { chunks, onChunk } = collect();
  const r = await backend.complete({ prompt, maxTokens: 100 }, onChunk);
  assert.equal(r.choices[0]!.finishReason, 'eos');
  assert.equal(r.choices[0]!.text, text);
  assert.deepEqual(r.choices[0]!.tokenIds, [...script, 0]);
  assert.equal(chunks.map((c) => c.text).join(''), text);
  for (const c of chunks) assert.ok(!c.text.includes('\uFFFD'));
  assert.ok(chunks.length > 3, 'streamed in several pieces');
  assert.deepEqual(r.usage, { promptTokens: tok.encode(prompt).length, completionTokens: script.length + 1 });
  assert.ok(r.timings!.firstTokenMs! >= 0);
});

test('stop sequence split across tokens: not returned, never streamed partially', async () => {
  const prompt = 'code:';
  const script = [...tok.encode(' let x = 1;'), ...tok.encode(' ST'), ...tok.encode('OP'), ...tok.encode(' tail')];
  const { backend } = backendWith(scriptFn([{ prompt: tok.encode(prompt), script }]));
  const { chunks, onChunk } = collect();
  const r = await backend.complete({ prompt, maxTokens: 100, stop: ['STOP'] }, onChunk);
  assert.equal(r.choices[0]!.finishReason, 'stop');
  assert.equal(r.choices[0]!.text, ' let x = 1; ');
  assert.equal(chunks.map((c) => c.text).join(''), ' let x = 1; ');
  for (const c of chunks) assert.ok(!c.text.includes('ST'), `chunk ${JSON.stringify(c.text)}`);
});

test('maxTokens ends with finishReason length; 0 tokens is allowed', async () => {
  const prompt = 'p';
  const script = tok.encode(' a b c d e f g h');
  const { backend } = backendWith(scriptFn([{ prompt: tok.encode(prompt), script }]));
  const r = await backend.complete({ prompt, maxTokens: 3 });
  assert.equal(r.choices[0]!.finishReason, 'length');
  assert.deepEqual(r.choices[0]!.tokenIds, script.slice(0, 3));
  assert.equal(r.choices[0]!.text, ' a b c');
  const z = await backend.complete({ prompt, maxTokens: 0 });
  assert.deepEqual([z.choices[0]!.text, z.choices[0]!.finishReason], ['', 'length']);
});

test('seeded sampling is reproducible; sample i does not depend on n', async () => {
  const { backend } = backendWith(noisyFn());
  const req = { prompt: 'x', maxTokens: 12, temperature: 0.9, topK: 40, topP: 0.95 };
  const a = await backend.complete({ ...req, seed: 1234 });
  const b = await backend.complete({ ...req, seed: 1234 });
  const c = await backend.complete({ ...req, seed: 99 });
  assert.deepEqual(a.choices[0]!.tokenIds, b.choices[0]!.tokenIds);
  assert.notDeepEqual(a.choices[0]!.tokenIds, c.choices[0]!.tokenIds);
  const { chunks, onChunk } = collect();
  const three = await backend.complete({ ...req, seed: 1234, n: 3 }, onChunk);
  assert.equal(three.choices.length, 3);
  assert.deepEqual(three.choices[0]!.tokenIds, a.choices[0]!.tokenIds);
  assert.notDeepEqual(three.choices[1]!.tokenIds, three.choices[2]!.tokenIds, 'independent samples');
  for (const i of [0, 1, 2]) {
    assert.equal(chunks.filter((ch) => ch.index === i).map((ch) => ch.text).join(''), three.choices[i]!.text);
  }
});

test('cancellation mid-generation returns promptly with finishReason cancelled', async () => {
  const { backend, runner } = backendWith(noisyFn(), { delayMs: 10 });
  const ac = new AbortController();
  const { chunks, onChunk } = collect();
  await backend.load(); // so the abort timer measures generation, not loading
  const t0 = performance.now();
  setTimeout(() => ac.abort(), 150);
  const r = await backend.complete({ prompt: 'x', maxTokens: 100000, temperature: 1, seed: 1, signal: ac.signal }, onChunk);
  const ms = performance.now() - t0;
  assert.equal(r.choices[0]!.finishReason, 'cancelled');
  assert.ok(ms < 150 + 100, `returned ${ms.toFixed(0)} ms after start (abort at 150)`);
  const n = r.choices[0]!.tokenIds!.length;
  assert.ok(n > 3 && runner.forwardCalls < 40, `${n} tokens in ${runner.forwardCalls} forward calls`);
  assert.equal(chunks.map((c) => c.text).join(''), r.choices[0]!.text);
  // An already-aborted request does no work at all.
  const calls = runner.forwardCalls;
  const r2 = await backend.complete({ prompt: 'x', maxTokens: 5, signal: AbortSignal.abort() });
  assert.equal(r2.choices[0]!.finishReason, 'cancelled');
  assert.equal(runner.forwardCalls, calls);
});

test('prefix reuse: a prompt extending the last one computes only the new tokens', async () => {
  const { backend, runner } = backendWith(noisyFn());
  const base = 'function add(a, b) {\n  return a + b;\n}\n\nfunction mul(a, b) {\n  return';
  const r1 = await backend.complete({ prompt: base, maxTokens: 4 });
  assert.equal(r1.timings!.promptTokensReused, 0);
  const typed = base + ' a *';
  const fedBefore = runner.fed;
  const r2 = await backend.complete({ prompt: typed, maxTokens: 1 });
  const common = tok.encode(typed).findIndex((t, i) => t !== tok.encode(base)[i]);
  assert.equal(r2.timings!.promptTokensReused, common);
  assert.equal(runner.fed - fedBefore, tok.encode(typed).length - common, 'only new prompt tokens were fed');
  // Same prompt again: everything but the last token is reused (one token is fed for logits).
  const fed2 = runner.fed;
  const r3 = await backend.complete({ prompt: typed, maxTokens: 1 });
  assert.equal(r3.timings!.promptTokensReused, tok.encode(typed).length - 1);
  assert.equal(runner.fed - fed2, 1);
  // Results are the same as from a fresh cache.
  const fresh = backendWith(noisyFn()).backend;
  const a = await backend.complete({ prompt: typed, maxTokens: 6 });
  const b = await fresh.complete({ prompt: typed, maxTokens: 6 });
  assert.deepEqual(a.choices[0]!.tokenIds, b.choices[0]!.tokenIds);
});

test('a batch of prompts gives the same results as one at a time', async () => {
  const { backend } = backendWith(noisyFn());
  const prompts = ['a', 'longer prompt here', 'x = [1, 2, 3]\nprint(x'];
  const batch = await backend.completeBatch(prompts, { maxTokens: 8 });
  for (const [i, p] of prompts.entries()) {
    const one = await backend.complete({ prompt: p, maxTokens: 8 });
    assert.deepEqual(batch.choices[i]!.tokenIds, one.choices[0]!.tokenIds, p);
    assert.equal(batch.choices[i]!.text, one.choices[0]!.text);
  }
});

test('concurrent requests are queued (one generation at a time on the runner)', async () => {
  const { backend } = backendWith(noisyFn(), { delayMs: 2 });
  const rs = await Promise.all(['a', 'b', 'c', 'a'].map((p) => backend.complete({ prompt: p, maxTokens: 5 })));
  assert.deepEqual(rs[0]!.choices[0]!.tokenIds, rs[3]!.choices[0]!.tokenIds);
});

for (const maxBatch of [1, 4]) {
  test(`a request cancelled while it waits behind another generation is answered at once (maxBatch ${maxBatch})`, async () => {
    const { backend } = backendWith(noisyFn(), { delayMs: 2, maxBatch });
    await backend.load();
    const long = new AbortController();
    let longDone = false;
    const running = backend.complete({ prompt: 'x', maxTokens: 100000, temperature: 1, seed: 1, signal: long.signal }).finally(() => (longDone = true));
    const waiter = new AbortController();
    const queued = backend.complete({ prompt: 'y', maxTokens: 5, signal: waiter.signal });
    waiter.abort();
    const r = await queued;
    // Ordering, not time: the waiter's answer came while the long generation was still running.
    assert.equal(longDone, false, 'answered only after the long generation ended');
    assert.equal(r.choices[0]!.finishReason, 'cancelled');
    assert.equal(r.choices[0]!.text, '');
    long.abort();
    assert.equal((await running).choices[0]!.finishReason, 'cancelled');
  });
}

test('bad options name the field; prompt longer than the context is refused', async () => {
  const { backend } = backendWith(noisyFn());
  await assert.rejects(backend.complete({ prompt: 'x', maxTokens: 4, topP: 1.5 }), /decoding option "topP" must be in \(0, 1\]/);
  await assert.rejects(backend.complete({ prompt: 'x', maxTokens: -1 }), /"maxTokens"/);
  await assert.rejects(backend.complete({ prompt: 'x', maxTokens: 4, stop: [''] }), /"stop"/);
  await assert.rejects(backend.complete({ prompt: 'word '.repeat(3000), maxTokens: 4 }), (e: unknown) => e instanceof NeoxError && /context holds 2048/.test(e.message));
  assert.deepEqual(await backend.health(), { ok: true, message: 'local fp32' });
  assert.equal(await backend.countTokens('hello world'), 2);
});

test('chat: the GPT-NeoXT format (asked for by name) stops at the next <human>: turn', async () => {
  const prompt = 'You are terse.\n<human>: Hi\n<bot>:';
  const script = tok.encode(' Hello!\n<human>: more');
  const { backend } = backendWith(scriptFn([{ prompt: tok.encode(prompt), script }]));
  const r = await backend.chat({ messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Hi' }], format: 'neoxt-chat', maxTokens: 50 });
  assert.equal(r.choices[0]!.text, ' Hello!');
  assert.equal(r.choices[0]!.finishReason, 'stop');
});

test("chat: the checkpoint's own chat_template is used when tokenizer_config.json has one", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'neox-chat-'));
  for (const f of ['config.json', 'tokenizer.json']) copyFileSync(join(MODEL, f), join(dir, f));
  const template = '{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}[assistant]';
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ chat_template: template }));
  const prompt = '[user] ping\n[assistant]';
  const { backend } = backendWith(scriptFn([{ prompt: tok.encode(prompt), script: tok.encode(' pong') }]), { modelDir: dir });
  const r = await backend.chat({ messages: [{ role: 'user', content: 'ping' }], maxTokens: 10 });
  assert.equal(r.choices[0]!.text, ' pong');
  assert.equal(r.choices[0]!.finishReason, 'eos');
});

test('maxBatch: requests that queue are generated as one batch, each as it would be alone', async () => {
  const reqs = [
    { prompt: 'first', maxTokens: 6 },
    { prompt: 'a longer second prompt', maxTokens: 9, temperature: 0.9, topK: 20, seed: 11 },
    { prompt: 'x = [1, 2', maxTokens: 12, stop: [','] },
    { prompt: 'def f(', maxTokens: 3, temperature: 0.7, topP: 0.8, seed: 5, repetitionPenalty: 1.3 },
    { prompt: 'y', maxTokens: 7 },
  ];
  const alone = backendWith(noisyFn()).backend;
  const want: Choice[] = [];
  for (const r of reqs) want.push((await alone.complete(r)).choices[0]!);
  const { backend, runner } = backendWith(noisyFn(), { maxBatch: 4, delayMs: 1 });
  await backend.load();
  const streamed = reqs.map(() => collect());
  const got = await Promise.all(reqs.map((r, i) => backend.complete(r, streamed[i]!.onChunk)));
  got.forEach((g, i) => {
    assert.deepEqual(g.choices[0]!.tokenIds, want[i]!.tokenIds, `request ${i}: same tokens`);
    assert.equal(g.choices[0]!.text, want[i]!.text);
    assert.equal(g.choices[0]!.finishReason, want[i]!.finishReason);
    assert.equal(streamed[i]!.chunks.map((c) => c.text).join(''), want[i]!.text, `request ${i}: streamed its own text`);
    assert.ok(streamed[i]!.chunks.every((c) => c.index === 0));
  });
  // The first ran alone (the runner was free); the next four queued and ran as one batch of 4 rows.
  const sequentialCalls = want.reduce((s, c) => s + c.tokenIds!.length, 0);
  assert.ok(runner.forwardCalls < sequentialCalls - 8, `${runner.forwardCalls} forward calls, ${sequentialCalls} one at a time`);
});

test('maxBatch: one request cancelled or too long fails alone; the rest of its batch completes', async () => {
  const { backend } = backendWith(noisyFn(), { maxBatch: 4, delayMs: 1 });
  await backend.load();
  const ac = new AbortController();
  const blocker = backend.complete({ prompt: 'first', maxTokens: 4 });
  const cancelled = backend.complete({ prompt: 'b', maxTokens: 50, signal: ac.signal }, () => ac.abort());
  // Refused when it joins, which may be before the others finish: its rejection is caught at once.
  const tooLong = backend.complete({ prompt: 'word '.repeat(3000), maxTokens: 4 }).then(
    () => assert.fail('a prompt longer than the context must be refused'),
    (e: Error) => e,
  );
  const fine = backend.complete({ prompt: 'c', maxTokens: 5 });
  await blocker;
  assert.equal((await cancelled).choices[0]!.finishReason, 'cancelled');
  assert.match((await tooLong).message, /context holds/);
  const ok = await fine;
  assert.equal(ok.choices[0]!.finishReason, 'length');
  assert.equal(ok.choices[0]!.tokenIds!.length, 5);
});

test('maxBatch: n > 1 and beam search run in the batch; a lone request keeps the prefix cache', async () => {
  const { backend } = backendWith(noisyFn(), { maxBatch: 4 });
  const prompt = 'the same prefix and then some';
  await backend.complete({ prompt, maxTokens: 2 });
  const again = await backend.complete({ prompt: prompt + ' more', maxTokens: 2 });
  assert.ok(again.timings!.promptTokensReused! > 0);
  const [samples, beams] = await Promise.all([
    backend.complete({ prompt, maxTokens: 4, n: 3, temperature: 0.8, seed: 1 }),
    backend.complete({ prompt, maxTokens: 4, numBeams: 2 }),
  ]);
  assert.equal(samples.choices.length, 3);
  assert.equal(beams.choices.length, 1);
});
