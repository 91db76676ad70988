/**
 * Perplexity scoring: negative log-likelihood of each token given the ones before it, as
 * Hugging Face computes it (n = tokens - 1 predictions per text). Texts are fed in chunks so
 * the logits of a long text never sit in memory all at once (1024 x 50k floats = 200 MB), and
 * the next chunk runs in the engine worker while this thread scores the previous one (the
 * log-softmax over the vocabulary costs about as much as the forward pass).
 */
import type { ModelRunner } from '../runner';
import { logSumExp } from './logits';

export interface TextNll {
  /** Number of predicted tokens (tokens - 1). */
  n: number;
  /** Summed negative log-likelihood (nats). */
  nll: number;
}

interface Chunk {
  text: number;
  start: number;
  part: number[];
}

/** Score each id list in `texts`; `onText(i, result)` is called as each one completes. */
export async function scoreTexts(
  runner: ModelRunner,
  texts: readonly (readonly number[])[],
  opts: { chunk?: number; signal?: AbortSignal; onText?: (index: number, r: TextNll) => void } = {},
): Promise<TextNll[]> {
  const size = opts.chunk ?? 256;
  const vocab = runner.info.vocabSize;
  const results = texts.map((ids) => ({ n: Math.max(0, ids.length - 1), nll: 0 }));
  // The last token of a text predicts nothing we score: feed ids[0 .. len-2] of each text.
  const chunks: Chunk[] = [];
  texts.forEach((ids, text) => {
    for (let start = 0; start < ids.length - 1; start += size) {
      chunks.push({ text, start, part: ids.slice(start, Math.min(start + size, ids.length - 1)) });
    }
  });
  // Runners that can compute the target log-probabilities inside the model (scoreNext) spare
  // copying chunk x vocab logits out of onnxruntime and the log-softmax here.
  const inGraph = typeof runner.scoreNext === 'function';
  const launch = (c: Chunk) => {
    if (c.start === 0) runner.reset(1); // a new text starts from an empty cache
    if (inGraph) {
      const ids = texts[c.text]!;
      return runner.scoreNext!([c.part], [ids.slice(c.start + 1, c.start + 1 + c.part.length) as number[]]);
    }
    return runner.forward([c.part], { allLogits: true });
  };
  const remaining = texts.map((ids) => Math.ceil(Math.max(0, ids.length - 1) / size));
  texts.forEach((_, i) => remaining[i] === 0 && opts.onText?.(i, results[i]!));
  let pending = chunks.length ? launch(chunks[0]!) : undefined;
  for (let k = 0; k < chunks.length; k++) {
    if (opts.signal?.aborted) {
      await pending!.catch(() => undefined); // never leave a forward() running behind our back
      opts.signal.throwIfAborted();
    }
    const [all] = await pending!;
    pending = k + 1 < chunks.length ? launch(chunks[k + 1]!) : undefined; // overlaps the scoring below
    const c = chunks[k]!;
    const ids = texts[c.text]!;
    let nll = 0;
    if (inGraph) {
      for (let p = 0; p < c.part.length; p++) nll -= all![p]!;
    } else {
      for (let p = 0; p < c.part.length; p++) {
        const row = all!.subarray(p * vocab, (p + 1) * vocab);
        nll += logSumExp(row) - row[ids[c.start + p + 1]!]!;
      }
    }
    results[c.text]!.nll += nll;
    if (--remaining[c.text]! === 0) opts.onText?.(c.text, results[c.text]!);
  }
  return results;
}
