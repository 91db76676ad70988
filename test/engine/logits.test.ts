import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyRepetitionPenalty, applyTopK, applyTopP, chooseToken, kthLargest, logSoftmax, sampleFromLogits } from '../../engine/local/decoding/logits';
import { createRng } from '../../engine/local/decoding/rng';

test('repetition penalty: HF semantics (positive divided, negative multiplied, each token once)', () => {
  const l = Float32Array.from([2, -2, 1, 4]);
  applyRepetitionPenalty(l, [0, 1, 1, 0], 2);
  assert.deepEqual([...l], [1, -4, 1, 4]);
});

test('top-k keeps ties with the k-th value; top-p keeps the smallest set reaching p', () => {
  const l = Float32Array.from([1, 3, 3, 2, 0]);
  applyTopK(l, 2);
  assert.deepEqual([...l], [-Infinity, 3, 3, -Infinity, -Infinity]);
  const l2 = Float32Array.from([1, 3, 3, 2, 0]);
  applyTopK(l2, 3);
  assert.deepEqual([...l2], [-Infinity, 3, 3, 2, -Infinity]);

  // probs 0.5, 0.3, 0.15, 0.05
  const p = Float32Array.from([0.5, 0.3, 0.15, 0.05].map(Math.log));
  applyTopP(p, 0.7);
  assert.deepEqual([...p].map((v) => v > -Infinity), [true, true, false, false]);
  const q = Float32Array.from([0.5, 0.3, 0.15, 0.05].map(Math.log));
  applyTopP(q, 0.01);
  assert.deepEqual([...q].map((v) => v > -Infinity), [true, false, false, false], 'always keeps the most likely token');
  const r = Float32Array.from([0.5, 0.3, 0.15, 0.05].map(Math.log));
  applyTopP(r, 0.9);
  assert.deepEqual([...r].map((v) => v > -Infinity), [true, true, true, false]);
});

test('greedy ignores top-k/top-p and takes argmax after the repetition penalty', () => {
  const rng = createRng(1);
  const l = Float32Array.from([1, 5, 4.5]);
  assert.equal(chooseToken(l, [], { topK: 1 }, rng), 1);
  assert.equal(chooseToken(l, [1], { repetitionPenalty: 2 }, rng), 2);
  assert.deepEqual([...l], [1, 5, 4.5], 'input logits untouched');
});

test('seeded PRNG is reproducible, and streams per sample differ', () => {
  const a = createRng(42, 0);
  const b = createRng(42, 0);
  const c = createRng(42, 1);
  const d = createRng(43, 0);
  const xs = Array.from({ length: 5 }, () => a());
  assert.deepEqual(xs, Array.from({ length: 5 }, () => b()));
  assert.notDeepEqual(xs, Array.from({ length: 5 }, () => c()));
  assert.notDeepEqual(xs, Array.from({ length: 5 }, () => d()));
  for (const x of xs) assert.ok(x >= 0 && x < 1);
});

test('sampling follows softmax probabilities; temperature sharpens', () => {
  const probs = [0.6, 0.3, 0.1];
  const logits = Float32Array.from(probs.map(Math.log));
  const rng = createRng(7);
  const counts = [0, 0, 0];
  const N = 20000;
  for (let i = 0; i < N; i++) counts[sampleFromLogits(logits, rng)]!++;
  counts.forEach((c, i) => assert.ok(Math.abs(c / N - probs[i]!) < 0.015, `token ${i}: ${c / N}`));
  const cold = [0, 0, 0];
  for (let i = 0; i < 2000; i++) cold[chooseToken(logits, [], { temperature: 0.1 }, rng)]!++;
  assert.ok(cold[0]! > 1990, `temperature 0.1 picks the top token almost always (${cold[0]})`);
  const lp = logSoftmax(logits);
  assert.ok(Math.abs(Math.exp(lp[0]!) - 0.6) < 1e-6);
});

/** The plain HF algorithm (full ascending sort), to check the fast path against. */
function topPReference(logits: Float32Array, p: number): Float32Array {
  const out = Float32Array.from(logits);
  const idx = [...out.keys()].filter((i) => out[i]! !== -Infinity).sort((a, b) => out[a]! - out[b]! || a - b);
  const lp = logSoftmax(out);
  let cum = 0;
  for (let j = 0; j < idx.length - 1; j++) {
    cum += Math.exp(lp[idx[j]!]!);
    if (cum <= 1 - p) out[idx[j]!] = -Infinity;
  }
  return out;
}

test('top-p fast path keeps exactly the tokens of the full-sort algorithm', () => {
  const rng = createRng(3);
  for (const [spread, p] of [[30, 0.9], [30, 0.5], [5, 0.95], [60, 0.99], [2, 0.3]] as const) {
    const l = Float32Array.from({ length: 50304 }, () => (rng() - 0.5) * spread);
    const fast = Float32Array.from(l);
    applyTopP(fast, p);
    const ref = topPReference(l, p);
    const kept = (x: Float32Array) => [...x.keys()].filter((i) => x[i]! !== -Infinity);
    assert.deepEqual(kept(fast), kept(ref), `spread ${spread}, p ${p}`);
  }
});

test('kthLargest (top-k threshold by quickselect) equals the sorted answer, with ties, -Infinity and every k', () => {
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + Math.floor(rnd() * 300);
    // Few distinct values on odd trials: many ties.
    const values = Float32Array.from({ length: n }, () => (trial % 2 ? Math.floor(rnd() * 5) : rnd() * 20 - 10));
    if (trial % 7 === 0) values[0] = -Infinity;
    const sorted = Float32Array.from(values).sort();
    for (const k of [1, 2, Math.ceil(n / 2), n]) {
      if (k > n) continue;
      assert.equal(kthLargest(values, k), sorted[n - k], `n=${n} k=${k}`);
    }
  }
  const big = Float32Array.from({ length: 50304 }, () => rnd());
  assert.equal(kthLargest(big, 40), Float32Array.from(big).sort()[50304 - 40]);
});
