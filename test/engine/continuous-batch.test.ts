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

function backendWith(opts: { maxBatch?: number; stepTokens?: number; stepRows?: number } = {}) {
  const runner = new ScriptedRunner(noisyFn(), { delayMs: 1 });
  const backend = createLocalBackend({ modelDir: MODEL, quant: 'fp32', loadRunner: async () => runner, maxBatch: opts.maxBatch ?? 1, stepTokens: opts.stepTokens, stepRows: opts.stepRows });
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
  // It left before the long one ended, and from then on the long row ran alone (the short one's
  // row is a free slot: kept for the next request, never computed).
  assert.ok(longChunksWhenShortDone > 0 && longChunksWhenShortDone < 40, `short done after ${longChunksWhenShortDone} long tokens`);
  assert.deepEqual(runner.shapes.at(-1), [1, 0]);
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

test('a short request beside a long stream and an n=8 group runs in every step, the long rows in turns, and finishes in few steps', async () => {
  const { backend, runner } = backendWith({ maxBatch: 4, stepRows: 4 });
  await backend.load();
  const long: CompletionRequest = { prompt: 'a long stream', maxTokens: 120 };
  const group: CompletionRequest = { prompt: 'eight samples', maxTokens: 80, n: 8, temperature: 0.8, seed: 4 };
  const short: CompletionRequest = { prompt: 'a short request that has to finish soon', maxTokens: 6 };
  let shortP: Promise<CompletionResult> | undefined;
  let callsAtSubmit = -1;
  let longChunks = 0;
  let longChunksWhileShort = 0;
  let shortDone = false;
  const groupP = backend.complete(group);
  const longP = backend.complete(long, () => {
    if (shortP && !shortDone) longChunksWhileShort++;
    if (++longChunks === 10) {
      callsAtSubmit = runner.forwardCalls;
      shortP = backend.complete(short).finally(() => (shortDone = true));
    }
  });
  const [a, b, c] = [await longP, await groupP, await shortP!];
  const callsAtEnd = runner.shapes.length;
  const [wantA, wantB, wantC] = await alone([long, group, short]);
  assert.deepEqual(ids(a), ids(wantA!));
  assert.deepEqual(ids(b), ids(wantB!));
  assert.deepEqual(ids(c), ids(wantC!));
  // The short request's row: the one that took its prompt (wider than one token) after it was sent.
  const calls = runner.shapes.slice(callsAtSubmit);
  const prefill = calls.findIndex((s) => s.some((w) => w > 1));
  const row = calls[prefill]!.findIndex((w) => w > 1);
  const shortSteps = calls.slice(prefill + 1).filter((s) => s[row]! > 0);
  assert.equal(shortSteps.length, c.choices[0]!.tokenIds!.length - 1, 'one decoding step per token after the prompt');
  // Its decoding steps carry it and at most stepRows - 1 long rows, so each costs a few rows, not ten.
  for (const s of shortSteps) assert.ok(s.filter((w) => w > 0).length <= 4, `a step of ${JSON.stringify(s)}`);
  // From its prompt to its last token, one step per token: at most three runner calls each (one per
  // run of neighbouring rows: it, the stream's row, rows of the group).
  const lastCall = calls.reduce((last, s, i) => (s[row]! > 0 ? i : last), prefill);
  assert.ok(lastCall - prefill + 1 <= 3 * (shortSteps.length + 1), `${lastCall - prefill + 1} calls from its prompt to its end`);
  // The long stream went on meanwhile, in turns (not starved), and the batch never grew past 10 rows.
  assert.ok(longChunksWhileShort >= 1, `the long stream streamed ${longChunksWhileShort} tokens meanwhile`);
  assert.ok(runner.shapes.slice(0, callsAtEnd).every((s) => s.length <= 10), 'rows: 1 + 8 + the short one');
});

test('a freed row stays a slot while requests come and go, and gaps are closed up once they stop', async () => {
  const { backend, runner } = backendWith({ maxBatch: 4 });
  await backend.load();
  const reqs: CompletionRequest[] = [
    { prompt: 'first long one', maxTokens: 90 },
    { prompt: 'short in the middle', maxTokens: 3 },
    { prompt: 'second long one', maxTokens: 90 },
  ];
  const got = await Promise.all(reqs.map((r) => backend.complete(r)));
  const want = await alone(reqs);
  got.forEach((g, i) => assert.deepEqual(ids(g), ids(want[i]!), `request ${i}`));
  // Right after the middle request left: the two long rows run around its free slot, then as one run of two.
  const gapCalls = runner.shapes.filter((s) => s.length === 3 && s[1] === 0 && s.some((w) => w > 0)).length;
  const closed = runner.shapes.findIndex((s) => s.length === 2 && s[0] === 1 && s[1] === 1);
  assert.ok(gapCalls >= 2 * 32, `${gapCalls} calls beside the free slot`);
  assert.ok(closed > 0 && runner.shapes.slice(closed).every((s) => s.length <= 2), 'closed up: two rows from then on');
});
