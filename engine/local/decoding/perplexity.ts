/**
 * Perplexity scoring: negative log-likelihood of each token given the ones before it, as
 * Hugging Face computes it (n = tokens - 1 predictions per text). The text is fed in chunks
 * so the logits of a long text never sit in memory all at once (1024 x 50k floats = 200 MB).
 */
import type { ModelRunner } from '../runner';
import { logSumExp } from './logits';

export interface TextNll {
  /** Number of predicted tokens (tokens - 1). */
  n: number;
  /** Summed negative log-likelihood (nats). */
  nll: number;
}

export async function scoreTokens(
  runner: ModelRunner,
  ids: readonly number[],
  chunk = 256,
  signal?: AbortSignal,
): Promise<TextNll> {
  if (ids.length < 2) return { n: 0, nll: 0 };
  runner.reset(1);
  const vocab = runner.info.vocabSize;
  let nll = 0;
  // The last token predicts nothing we score: feed ids[0 .. len-2].
  for (let start = 0; start < ids.length - 1; start += chunk) {
    signal?.throwIfAborted();
    const part = ids.slice(start, Math.min(start + chunk, ids.length - 1));
    const [all] = await runner.forward([part], { allLogits: true });
    for (let p = 0; p < part.length; p++) {
      const row = all!.subarray(p * vocab, (p + 1) * vocab);
      nll += logSumExp(row) - row[ids[start + p + 1]!]!;
    }
  }
  return { n: ids.length - 1, nll };
}
