// Shared helpers for the model tests (test/engine/model-*.test.ts): fixture paths and log-softmax.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MODEL_DIR = 'models/neox-code-23m';
export const VARIANTS_DIR = 'test/fixtures/models/variants';
export const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'));
export const reference = () => readJson('test/fixtures/neox-code-23m-reference.json');
export const variantsReference = () => readJson('test/fixtures/neox-variants-reference.json');

/** A fresh model cache folder for one test file (conversion of the test models takes < 1 s). */
export const tempDir = (tag: string) => mkdtempSync(join(tmpdir(), `neox-${tag}-`));

/** log_softmax computed in float64. */
export function logSoftmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let z = 0;
  for (const v of logits) z += Math.exp(v - max);
  const lse = max + Math.log(z);
  return Float64Array.from(logits, (v) => v - lse);
}

export function topK(values: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: values.length }, (_, i) => i)
    .sort((a, b) => values[b] - values[a])
    .slice(0, k);
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
