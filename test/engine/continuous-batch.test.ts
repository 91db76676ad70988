/**
 * Continuous batching (engine/local/continuous-batch.ts) against a scripted runner: a request joins
 * the running batch at the next step and leaves when done, its prompt fed in chunks beside the
 * running rows; n samples and beams are rows of the same batch; stops, seeds and cancellation per
 * request; the prefix cache serves joining rows. Every request's result must equal its result
 * alone. The same checks on the real model are in continuous-batch-model.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalBackend } from '../../engine/local/local-backend';
import { loadTokenizer } from '../../engine/local/tokenizer';
import type { CompletionRequest, CompletionResult, TextChunk } from '../../engine/types';
import { ScriptedRunner, noisyFn } from './helpers/scripted-runner';

const MODEL = 'models/neox-code-23m';
const tok = await loadTokenizer(MODEL);

function backendWith(opts: { maxBatch?: number; stepTokens?: number } = {}) {
  const runner = new ScriptedRunner(noisyFn(), { delayMs: 1 });
  const backend = createLocalBackend({ modelDir: MODEL, quant: 'fp32', loadRunner: async () => runner, maxBatch: opts.maxBatch ?? 1, stepTokens: opts.stepTokens });
  return { runner, backend };
}

/** Each request's result run alone, on a fresh backend without batching. */
async function alone(reqs: CompletionRequest[]): Promise<CompletionResult[]> {
  const { backend } = backendWith();
  const out: CompletionResult[] = [];
  for (const r of reqs) out.push(await backend.complete(r));
  return out;
}

const ids = (r: CompletionResult) => r.choices.map((c) => [c.tokenIds, c.text, c.finishReason]);

test('a request joins the running batch at the next step and leaves when done, its row freed', async () => {
  const { backend, runner } = backendWith({ maxBatch: 4 });
  await backend.load();
  const long: CompletionRequest = { prompt: 'a long generation', maxTokens: 40, temperature: 0.8, seed: 3 };
  const short: CompletionRequest = { prompt: 'x', maxTokens: 5 };
  let joinedAtCall = -1;
  let shortP: Promise<CompletionResult> | undefined;
  let longChunks = 0;
  let longChunksWhenShortDone = -1;
  const longP = backend.complete(long, () => {
    if (++longChunks === 3) {
      joinedAtCall = runner.forwardCalls; // the call that produced this token has run
      shortP = backend.complete(short).then((r) => ((longChunksWhenShortDone = longChunks), r));
    }
  });
  const [a, b] = [await longP, await shortP!];
  const [wantA, wantB] = await alone([long, short]);
  assert.deepEqual(ids(a), ids(wantA!));
  assert.deepEqual(ids(b), ids(wantB!));
  // The newcomer's row is beside the long one within a step of its arrival (its request reaches the
  // batch a few microtasks after this callback, so at the next step or the one after).
  const joined = runner.shapes.findIndex((s, i) => i >= joinedAtCall && s.length === 2);
  assert.ok(joined >= joinedAtCall && joined <= joinedAtCall + 1, `joined at call ${joined}, arrived after call ${joinedAtCall}`);
  // It left before the long one ended, and from then on the long row ran alone.
  assert.ok(longChunksWhenShortDone > 0 && longChunksWhenShortDone < 40, `short done after ${longChunksWhenShortDone} long tokens`);
  assert.deepEqual(runner.shapes.at(-1), [1]);
  assert.ok(runner.shapes.slice(joinedAtCall).some((s) => s.length === 2));
});

test('a joining prompt goes in chunks apart from the running rows, which keep one token per step', async () => {
  const { backend, runner } = backendWith({ maxBatch: 4, stepTokens: 8 });
  await backend.load();
  const long: CompletionRequest = { prompt: 'def f():', maxTokens: 30 };
  const longPrompt = ' word'.repeat(40); // 40 tokens: 5 chunks of 8 beside the running row
  const joiner: CompletionRequest = { prompt: longPrompt, maxTokens: 3 };
  const chunksDuringPrefill: number[] = [];
  let joinP: Promise<CompletionResult> | undefined;
  let firstOfJoiner = false;
  let longTokens = 0;
  const longP = backend.complete(long, () => {
    longTokens++;
    if (longTokens === 2) joinP = backend.complete(joiner, () => (firstOfJoiner = true));
    else if (joinP && !firstOfJoiner) chunksDuringPrefill.push(longTokens);
  });
  const [a, b] = [await longP, await joinP!];
  const [wantA, wantB] = await alone([long, joiner]);
  assert.deepEqual(ids(a), ids(wantA!));
  assert.deepEqual(ids(b), ids(wantB!));
  assert.equal(tok.encode(longPrompt).length, 40);
  // The chunks run apart from the decoding row (0: not in that run), then the decoding row alone.
  const prefill = runner.shapes.filter((s) => s.length === 2 && s[1]! > 1);
  assert.deepEqual(prefill, new Array(5).fill([0, 8]));
  const during = runner.shapes.slice(runner.shapes.findIndex((s) => s[1] === 8));
  assert.deepEqual(during.slice(0, 10), [[0, 8], [1, 0], [0, 8], [1, 0], [0, 8], [1, 0], [0, 8], [1, 0], [0, 8], [1, 0]]);
  assert.ok(chunksDuringPrefill.length >= 4, `the long request streamed ${chunksDuringPrefill.length} tokens while the prompt went in`);
});

test('n samples and beam search are rows of the same batch; each result equals its result alone', async () => {
  const { backend, runner } = backendWith({ maxBatch: 4 });
  await backend.load();
  const reqs: CompletionRequest[] = [
    { prompt: 'the first one runs long', maxTokens: 30 },
    { prompt: 'samples', maxTokens: 8, n: 3, temperature: 0.9, seed: 21 },
    { prompt: 'beams', maxTokens: 6, numBeams: 2, n: 2 },
    { prompt: 'stops at a comma', maxTokens: 20, stop: [','], temperature: 0.7, seed: 5, repetitionPenalty: 1.2 },
  ];
  const streamed = reqs.map(() => [] as TextChunk[]);
  const rest: Promise<CompletionResult>[] = [];
  const first = backend.complete(reqs[0]!, (c) => {
    streamed[0]!.push(c);
    if (streamed[0]!.length === 2) reqs.slice(1).forEach((r, i) => rest.push(backend.complete(r, (ch) => streamed[i + 1]!.push(ch))));
  });
  const got = [await first, ...(await Promise.all(rest))];
  const want = await alone(reqs);
  got.forEach((g, i) => {
    assert.deepEqual(ids(g), ids(want[i]!), `request ${i}`);
    for (const c of g.choices) assert.equal(streamed[i]!.filter((s) => s.index === c.index).map((s) => s.text).join(''), c.text, `request ${i} choice ${c.index} streamed`);
  });
  // 1 + 3 samples + 2 beams + 1 rows decoded side by side.
  assert.ok(runner.shapes.some((s) => s.length === 7 && s.every((w) => w === 1)), 'all seven rows in one decoding step');
});

test('a request cancelled in the batch ends at once with its text so far; the others go on as alone', async () => {
  const { backend } = backendWith({ maxBatch: 4 });
  await backend.load();
  const keep: CompletionRequest = { prompt: 'keeps going', maxTokens: 25, temperature: 0.5, seed: 8 };
  const ac = new AbortController();
  let sendCancelled!: (p: Promise<CompletionResult>) => void;
  const cancelP = new Promise<Promise<CompletionResult>>((r) => (sendCancelled = r));
  const texts: string[] = [];
  const keepP = backend.complete(keep, (c) => {
    texts.push(c.text);
    if (texts.length === 2) {
      let n = 0;
      sendCancelled(
        backend.complete({ prompt: 'is cancelled', maxTokens: 1000, temperature: 1, seed: 1, signal: ac.signal }, () => {
          if (++n === 4) ac.abort();
        }),
      );
    }
  });
  let keepDone = false;
  void keepP.then(() => (keepDone = true));
  const c = await (await cancelP);
  assert.equal(keepDone, false, 'the cancelled request ran and ended beside the other, not after it');
  const k = await keepP;
  assert.deepEqual(ids(k), ids((await alone([keep]))[0]!));
  assert.equal(c.choices[0]!.finishReason, 'cancelled');
  assert.ok(c.choices[0]!.tokenIds!.length >= 4 && c.choices[0]!.tokenIds!.length <= 5, `${c.choices[0]!.tokenIds!.length} tokens after the abort at the 4th`);
});

test('the prefix cache serves a joining row: a prompt extending a running row starts from a copy of it', async () => {
  const { backend, runner } = backendWith({ maxBatch: 4 });
  await backend.load();
  const base = 'function add(a, b) {\n  return a + b;\n}\n\nfunction mul(a, b) {\n  return';
  const first: CompletionRequest = { prompt: base, maxTokens: 20 };
  const extended: CompletionRequest = { prompt: base + ' a * b;\n}\n', maxTokens: 4 };
  let sendSecond!: (p: Promise<CompletionResult>) => void;
  const secondP = new Promise<Promise<CompletionResult>>((r) => (sendSecond = r));
  let fedAtJoin = 0;
  let n = 0;
  const firstP = backend.complete(first, () => {
    if (++n === 2) {
      fedAtJoin = runner.fed;
      sendSecond(backend.complete(extended));
    }
  });
  let firstDone = false;
  void firstP.then(() => (firstDone = true));
  const b = await (await secondP);
  assert.equal(firstDone, false, 'the second request ran beside the first');
  const a = await firstP;
  const [wantA, wantB] = await alone([first, extended]);
  assert.deepEqual(ids(a), ids(wantA!));
  assert.deepEqual(ids(b), ids(wantB!));
  const shared = tok.encode(extended.prompt).findIndex((t, i) => t !== tok.encode(base)[i]);
  assert.equal(b.timings!.promptTokensReused, shared);
  // Fed since the join: the first request's tokens, and only the extension of the second prompt.
  const firstTokensSince = a.choices[0]!.tokenIds!.length - 2;
  const secondTokens = b.choices[0]!.tokenIds!.length - 1;
  assert.ok(runner.fed - fedAtJoin <= firstTokensSince + tok.encode(extended.prompt).length - shared + secondTokens, `${runner.fed - fedAtJoin} tokens fed since the join`);
  // After the batch empties, the row of the request that finished last (the first) stays as the cache:
  // its prompt again reuses all but one token.
  const again = await backend.complete({ prompt: base, maxTokens: 1 });
  assert.equal(again.timings!.promptTokensReused, tok.encode(base).length - 1);
});

test('maxBatch bounds the requests in the batch; the others join as rows leave', async () => {
  const { backend, runner } = backendWith({ maxBatch: 2 });
  await backend.load();
  const reqs: CompletionRequest[] = [1, 2, 3, 4, 5].map((i) => ({ prompt: `request ${i}`, maxTokens: 3 + i }));
  const got = await Promise.all(reqs.map((r) => backend.complete(r)));
  const want = await alone(reqs);
  got.forEach((g, i) => assert.deepEqual(ids(g), ids(want[i]!), `request ${i}`));
  assert.ok(runner.shapes.every((s) => s.length <= 2), 'never more than 2 rows');
  assert.ok(runner.shapes.filter((s) => s.length === 2).length > 5, 'two at a time for most steps');
});
