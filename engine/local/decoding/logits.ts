/**
 * Logits processing with Hugging Face transformers semantics (RepetitionPenaltyLogitsProcessor,
 * TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper, in that order), plus the
 * numeric helpers decoding needs. All functions work in place on a Float32Array copy.
 */
import type { Rng } from './rng';

export interface SamplingParams {
  /** 0 or undefined: greedy (argmax); top-k/top-p are then ignored, as in HF with do_sample=False. */
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
}

/** HF: for every distinct token already in the sequence, score<0 ? score*p : score/p. */
export function applyRepetitionPenalty(logits: Float32Array, context: readonly number[], penalty: number): void {
  if (penalty === 1) return;
  const seen = new Set<number>();
  for (const id of context) {
    if (seen.has(id) || id < 0 || id >= logits.length) continue;
    seen.add(id);
    const s = logits[id]!;
    logits[id] = s < 0 ? s * penalty : s / penalty;
  }
}

function argmax(x: ArrayLike<number>): number {
  let best = 0;
  let bestV = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v > bestV) {
      bestV = v;
      best = i;
    }
  }
  return best;
}

/** log(sum(exp(x))) computed stably in float64. */
export function logSumExp(x: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i]! > m) m = x[i]!;
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.exp(x[i]! - m);
  return m + Math.log(s);
}

/** Log-probabilities (float64) of a logits row. */
export function logSoftmax(x: ArrayLike<number>): Float64Array {
  const lse = logSumExp(x);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! - lse;
  return out;
}

/** HF TopKLogitsWarper: keep every logit >= the k-th largest (ties kept), others -inf. */
export function applyTopK(logits: Float32Array, k: number): void {
  if (k <= 0 || k >= logits.length) return;
  const threshold = kthLargest(logits, k);
  for (let i = 0; i < logits.length; i++) if (logits[i]! < threshold) logits[i] = -Infinity;
}

/**
 * The k-th largest value (k from 1) by quickselect on a copy: O(vocab) per step, where sorting the
 * 50k logits took milliseconds. NaN-free values assumed.
 */
export function kthLargest(values: Float32Array, k: number): number {
  const a = Float32Array.from(values);
  const want = a.length - k; // its index in ascending order
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i++] = a[j]!;
        a[j--] = t;
      }
    }
    if (want <= j) hi = j;
    else if (want >= i) lo = i;
    else return a[want]!;
  }
  return a[want]!;
}

/**
 * HF TopPLogitsWarper: sort ascending, remove tokens whose cumulative probability
 * (from the least likely up) is <= 1 - top_p, always keeping the most likely token.
 * Sorting 50k logits every token is slow, so only the plausible head (within 16 nats of the
 * best) is sorted when the tail below it is small enough to be removed whole anyway.
 */
export function applyTopP(logits: Float32Array, p: number): void {
  if (p >= 1) return;
  const lse = logSumExp(logits);
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  const cut = max - 16;
  const head: number[] = [];
  let tail = 0;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (v >= cut) head.push(i);
    else if (v !== -Infinity) tail += Math.exp(v - lse);
  }
  let idx: number[];
  let cum = 0;
  if (tail <= 1 - p) {
    // Every tail token precedes the head in ascending order and its running sum stays <= tail <= 1-p.
    for (let i = 0; i < logits.length; i++) if (logits[i]! < cut) logits[i] = -Infinity;
    cum = tail;
    idx = head;
  } else {
    idx = [];
    for (let i = 0; i < logits.length; i++) if (logits[i]! !== -Infinity) idx.push(i);
  }
  idx.sort((a, b) => logits[a]! - logits[b]! || a - b);
  for (let j = 0; j < idx.length - 1; j++) {
    cum += Math.exp(logits[idx[j]!]! - lse);
    if (cum <= 1 - p) logits[idx[j]!] = -Infinity;
    else break; // cumulative sums only grow: nothing after this is removed
  }
}

/** Draw an index with probability softmax(logits). */
export function sampleFromLogits(logits: Float32Array, rng: Rng): number {
  const lse = logSumExp(logits);
  let r = rng();
  let last = 0;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (v === -Infinity) continue;
    last = i;
    r -= Math.exp(v - lse);
    if (r < 0) return i;
  }
  return last; // rounding left a sliver of mass: the last possible token
}

/** Pick the next token for one row: processors in HF order, then argmax or a sample. */
export function chooseToken(
  raw: Float32Array,
  context: readonly number[],
  params: SamplingParams,
  rng: Rng,
): number {
  const t = params.temperature ?? 0;
  const penalty = params.repetitionPenalty ?? 1;
  // Plain greedy reads the logits as they are: no copy of the vocabulary per step.
  if (!(t > 0) && penalty === 1) return argmax(raw);
  const logits = Float32Array.from(raw);
  applyRepetitionPenalty(logits, context, penalty);
  if (!(t > 0)) return argmax(logits);
  if (t !== 1) for (let i = 0; i < logits.length; i++) logits[i] = logits[i]! / t;
  if (params.topK) applyTopK(logits, params.topK);
  if (params.topP !== undefined) applyTopP(logits, params.topP);
  return sampleFromLogits(logits, rng);
}
