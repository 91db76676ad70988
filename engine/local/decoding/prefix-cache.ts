/**
 * Prefix reuse: while someone types, each request's prompt mostly repeats the previous one.
 * The runner's row 0 keeps the previous tokens' keys/values; we cut it back to the common
 * prefix and feed only the rest (always at least one token, to get next-token logits).
 */
import type { ModelRunner } from '../runner';

function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

export interface PrefillResult {
  /** Next-token logits after the whole prompt. */
  logits: Float32Array;
  /** Prompt tokens whose keys/values came from the cache. */
  reused: number;
}

/** Leave the runner with exactly one row holding `ids`, computing only what is not cached. */
export async function prefillWithReuse(runner: ModelRunner, ids: readonly number[]): Promise<PrefillResult> {
  if (ids.length === 0) throw new Error('prefillWithReuse: empty prompt'); // callers substitute BOS
  let reused = 0;
  if (runner.rows >= 1) {
    if (runner.rows > 1) runner.reorder([0]); // keep the first sample / prompt of the last request
    reused = Math.min(commonPrefixLength(runner.cachedTokens(0), ids), ids.length - 1);
  }
  if (reused === 0) runner.reset(1);
  else if (reused < runner.cachedTokens(0).length) runner.truncate(reused);
  const [logits] = await runner.forward([ids.slice(reused)]);
  return { logits: logits!, reused };
}
