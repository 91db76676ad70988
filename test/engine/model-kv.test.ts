// The KV cache behind ModelRunner: prefix reuse (truncate), several new tokens on top of a cache,
// ragged rows, reorder (beam search), growth past the initial capacity, allLogits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { loadRunner, type ModelRunner } from '../../engine/local/load';
import { NeoxError } from '../../engine/types';
import { argmax, maxAbsDiff, MODEL_DIR, reference, tempDir } from './model-helpers';

const cacheDir = tempDir('kv');
let runner: ModelRunner;
const prompts: number[][] = reference().greedy.map((g: { input_ids: number[] }) => g.input_ids);
// The compared paths are the same float32 arithmetic in another grouping (one token at a time vs
// several, batch rows vs alone), so logits (magnitude up to ~30) differ by rounding only: measured
// up to 1.05e-5 on AVX-512 and under an emulated AVX2 processor (qemu-x86_64 -cpu EPYC-Rome). A
// wrong cache slot or position changes logits by more than 0.1.
const TOL = 1e-4;

before(async () => {
  runner = await loadRunner({ modelDir: MODEL_DIR, quant: 'fp32', cacheDir });
});
after(async () => {
  await runner?.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
});

/** Logits after feeding `ids` to an empty single-row cache. */
async function fresh(ids: number[]): Promise<Float32Array> {
  runner.reset(1);
  return (await runner.forward([ids]))[0];
}

test('truncate(k) + forward(rest) equals a fresh forward, for the same and for a different continuation', async () => {
  const a = prompts[0];
  const b = [...a.slice(0, 20), ...prompts[1].slice(0, 15)];
  const freshA = await fresh(a);
  const freshB = await fresh(b);
  runner.reset(1);
  await runner.forward([a]);
  runner.truncate(20);
  assert.deepEqual(runner.cachedTokens(0), a.slice(0, 20));
  const [reusedB] = await runner.forward([b.slice(20)]);
  assert.ok(maxAbsDiff(reusedB, freshB) < TOL, `different continuation: ${maxAbsDiff(reusedB, freshB)}`);
  runner.truncate(20);
  const [reusedA] = await runner.forward([a.slice(20)]);
  assert.ok(maxAbsDiff(reusedA, freshA) < TOL, `same continuation: ${maxAbsDiff(reusedA, freshA)}`);
  assert.deepEqual(runner.cachedTokens(0), a);
});

test('several new tokens on top of a cache and one at a time give the same logits', async () => {
  const a = prompts[2];
  const whole = await fresh(a);
  runner.reset(1);
  await runner.forward([a.slice(0, 7)]);
  await runner.forward([a.slice(7, 30)]);
  for (const t of a.slice(30, -1)) await runner.forward([[t]]);
  const [last] = await runner.forward([a.slice(-1)]);
  assert.ok(maxAbsDiff(last, whole) < TOL, `${maxAbsDiff(last, whole)}`);
});

test('allLogits returns every new position, equal to feeding the tokens one by one', async () => {
  const a = prompts[5].slice(0, 12);
  runner.reset(1);
  await runner.forward([a.slice(0, 4)]);
  const [all] = await runner.forward([a.slice(4)], { allLogits: true });
  const V = runner.info.vocabSize;
  assert.equal(all.length, 8 * V);
  runner.reset(1);
  await runner.forward([a.slice(0, 4)]);
  for (let i = 4; i < a.length; i++) {
    const [one] = await runner.forward([[a[i]]]);
    const d = maxAbsDiff(one, all.subarray((i - 4) * V, (i - 3) * V));
    assert.ok(d < TOL, `position ${i}: ${d}`);
  }
});

test('ragged rows in one batch equal each row run alone, through prefill and decoding', async () => {
  const rows = [prompts[3].slice(0, 40), prompts[4].slice(0, 9), prompts[6].slice(0, 25)];
  const alone: number[][] = [];
  const aloneLast: Float32Array[] = [];
  for (const r of rows) {
    let [logits] = await fresh(r).then((l) => [l]);
    const out: number[] = [];
    for (let k = 0; k < 6; k++) {
      out.push(argmax(logits));
      [logits] = await runner.forward([[out[k]]]);
    }
    alone.push(out);
    aloneLast.push(logits);
  }
  runner.reset(3);
  let batch = await runner.forward(rows);
  const outs: number[][] = [[], [], []];
  for (let k = 0; k < 6; k++) {
    const next = batch.map((l) => argmax(l));
    next.forEach((t, i) => outs[i].push(t));
    batch = await runner.forward(next.map((t) => [t]));
  }
  assert.deepEqual(outs, alone);
  batch.forEach((l, i) => assert.ok(maxAbsDiff(l, aloneLast[i]) < TOL, `row ${i}: ${maxAbsDiff(l, aloneLast[i])}`));
  rows.forEach((r, i) => assert.deepEqual(runner.cachedTokens(i), [...r, ...outs[i]]));
});

test('ragged rows with several new tokens per row (different counts) on top of a ragged cache', async () => {
  const p = [prompts[7].slice(0, 30), prompts[8].slice(0, 12)];
  const q = [prompts[7].slice(30, 33), prompts[8].slice(12, 20)];
  const expected = [await fresh([...p[0], ...q[0]]), await fresh([...p[1], ...q[1]])];
  runner.reset(2);
  await runner.forward(p);
  const got = await runner.forward(q);
  got.forEach((l, i) => assert.ok(maxAbsDiff(l, expected[i]) < TOL, `row ${i}: ${maxAbsDiff(l, expected[i])}`));
});

test('reorder copies rows (beam search) and changes the row count', async () => {
  const rows = [prompts[9].slice(0, 20), prompts[10].slice(0, 33)];
  const nextA = 187;
  const nextB = 50276;
  const expectB = await fresh([...rows[1], nextB]);
  const expectA = await fresh([...rows[0], nextA]);
  runner.reset(2);
  await runner.forward(rows);
  runner.reorder([1, 1, 0]);
  assert.equal(runner.rows, 3);
  assert.deepEqual(runner.cachedTokens(2), rows[0]);
  const out = await runner.forward([[nextB], [nextB], [nextA]]);
  assert.ok(maxAbsDiff(out[0], expectB) < TOL);
  assert.ok(maxAbsDiff(out[1], expectB) < TOL);
  assert.ok(maxAbsDiff(out[2], expectA) < TOL);
  runner.reorder([2]);
  const [again] = await runner.forward([[nextA]]);
  assert.ok(maxAbsDiff(again, await fresh([...rows[0], nextA, nextA])) < TOL);
});

test('reorder with the same row count (a beam step) permutes and duplicates rows in place', async () => {
  const rows = [prompts[12].slice(0, 15), prompts[13].slice(0, 22), prompts[14].slice(0, 9)];
  const next = [11, 12, 13];
  runner.reset(3);
  await runner.forward(rows);
  runner.reorder([2, 0, 0]);
  const out = await runner.forward(next.map((t) => [t]));
  const expected = [await fresh([...rows[2], next[0]]), await fresh([...rows[0], next[1]]), await fresh([...rows[0], next[2]])];
  out.forEach((l, i) => assert.ok(maxAbsDiff(l, expected[i]) < TOL, `row ${i}: ${maxAbsDiff(l, expected[i])}`));
});

test('the cache grows past its initial capacity and reuses slots freed by truncation', async () => {
  const long = prompts.flat().slice(0, 300);
  const expected = await fresh(long);
  runner.reset(2);
  // Row 1 short, row 0 long: lots of padding slots, then truncation frees them for reuse.
  await runner.forward([long.slice(0, 100), long.slice(0, 5)]);
  for (let i = 0; i < 3; i++) {
    runner.truncate(50);
    await runner.forward([long.slice(50, 150), [long[5 + i]]]);
  }
  runner.truncate(150);
  const [got, short] = await runner.forward([long.slice(150), [long[8]]]);
  assert.ok(maxAbsDiff(got, expected) < TOL, `${maxAbsDiff(got, expected)}`);
  assert.deepEqual(runner.cachedTokens(0), long);
  assert.deepEqual(runner.cachedTokens(1), long.slice(0, 9));
  assert.ok(maxAbsDiff(short, await fresh(long.slice(0, 9))) < TOL);
});

test('rows truncated to different lengths keep their tokens when the cache grows', async () => {
  const long = prompts.flat().slice(0, 400);
  const other = prompts.flat().slice(1000, 1300);
  // A runner of its own, so the cache starts at its initial capacity.
  const own = await loadRunner({ modelDir: MODEL_DIR, quant: 'fp32', cacheDir });
  own.reset(2);
  await own.forward([long.slice(0, 100), other.slice(0, 5)]);
  own.truncate(50);
  await own.forward([long.slice(50, 53), other.slice(5, 105)]);
  own.truncate(10);
  const [a, b] = await own.forward([long.slice(10, 220), other.slice(10, 12)]);
  await own.dispose();
  const [fa] = [await fresh(long.slice(0, 220))];
  const fb = await fresh(other.slice(0, 12));
  assert.ok(maxAbsDiff(a, fa) < TOL, `row 0: ${maxAbsDiff(a, fa)}`);
  assert.ok(maxAbsDiff(b, fb) < TOL, `row 1: ${maxAbsDiff(b, fb)}`);
});

test('calls issued without awaiting apply in call order (cachedTokens follows at once)', async () => {
  const a = prompts[11];
  const expected = await fresh([...a.slice(0, 10), ...a.slice(30, 35)]);
  runner.reset(1);
  const first = runner.forward([a.slice(0, 30)]);
  assert.deepEqual(runner.cachedTokens(0), a.slice(0, 30));
  runner.truncate(10);
  const second = runner.forward([a.slice(30, 35)]);
  assert.deepEqual(runner.cachedTokens(0), [...a.slice(0, 10), ...a.slice(30, 35)]);
  await first;
  const [got] = await second;
  assert.ok(maxAbsDiff(got, expected) < TOL, `${maxAbsDiff(got, expected)}`);
});

test('bad calls fail with a NeoxError and leave the cache usable', async () => {
  runner.reset(1);
  await runner.forward([[1, 2, 3]]);
  await assert.rejects(runner.forward([[1], [2]]), (e: Error) => e instanceof NeoxError && /rows/.test(e.message));
  await assert.rejects(runner.forward([[99999999]]), (e: Error) => e instanceof NeoxError && /vocabulary/.test(e.message));
  await assert.rejects(runner.forward([[]]), (e: Error) => e instanceof NeoxError && /no tokens/.test(e.message));
  assert.throws(() => runner.reorder([5]), NeoxError);
  assert.throws(() => runner.truncate(-1), NeoxError);
  assert.deepEqual(runner.cachedTokens(0), [1, 2, 3]);
  runner.reset(1);
  await assert.rejects(runner.forward([new Array(2049).fill(1)]), (e: Error) => e instanceof NeoxError && /context length 2048/.test(e.message));
  const [ok] = await runner.forward([[1, 2, 3]]);
  assert.equal(ok.length, runner.info.vocabSize);
});

test('prompts longer than one prefill chunk: ragged rows, every position and scores equal shorter runs', async () => {
  const long = prompts.flat().slice(0, 600); // PREFILL_CHUNK is 256: three chunks
  const short = prompts.flat().slice(2000, 2100);
  const aloneLong = await fresh(long);
  const aloneShort = await fresh(short);
  runner.reset(2);
  const [a, b] = await runner.forward([long, short]);
  assert.ok(maxAbsDiff(a, aloneLong) < TOL, `long row: ${maxAbsDiff(a, aloneLong)}`);
  assert.ok(maxAbsDiff(b, aloneShort) < TOL, `short row: ${maxAbsDiff(b, aloneShort)}`);
  assert.deepEqual(runner.cachedTokens(0), long);
  assert.deepEqual(runner.cachedTokens(1), short);

  // allLogits across chunk boundaries: position i's logits equal a fresh run of the first i+1 tokens.
  runner.reset(1);
  const [all] = await runner.forward([long.slice(0, 300)], { allLogits: true });
  const V = all.length / 300;
  for (const i of [0, 255, 256, 299]) {
    const want = await fresh(long.slice(0, i + 1));
    const got = all.subarray(i * V, (i + 1) * V);
    assert.ok(maxAbsDiff(got, want) < TOL, `position ${i}: ${maxAbsDiff(got, want)}`);
  }
});
