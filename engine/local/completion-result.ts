/** The CompletionResult of a local generation, built from the decoder's sequences and the request's timings. */
import type { Choice, CompletionResult } from '../types';
import type { SequenceResult } from './decoding/generate';

export function toResult(results: SequenceResult[], promptTokens: number, t0: number, firstAt: number | undefined, reused?: number): CompletionResult {
  const choices: Choice[] = results.map((r, index) => ({ index, text: r.text, tokenIds: r.ids, finishReason: r.finishReason }));
  return {
    choices,
    usage: { promptTokens, completionTokens: results.reduce((s, r) => s + r.ids.length, 0) },
    timings: {
      firstTokenMs: firstAt === undefined ? undefined : firstAt - t0,
      totalMs: performance.now() - t0,
      promptTokensReused: reused,
    },
  };
}

/** The answer to a request cancelled before it ran: `n` empty choices. */
export function cancelledResult(n: number, promptTokens: number, t0: number): CompletionResult {
  return toResult(Array.from({ length: n }, () => ({ ids: [], text: '', finishReason: 'cancelled' as const })), promptTokens, t0, undefined, 0);
}

/** Beam search is not streamed token by token, so stop strings are applied to its finished text. */
export function applyStops(r: SequenceResult, stop: string[] | undefined): SequenceResult {
  if (!stop?.length) return r;
  let cut = -1;
  for (const s of stop) {
    const at = r.text.indexOf(s);
    if (at >= 0 && (cut < 0 || at < cut)) cut = at;
  }
  return cut < 0 ? r : { ...r, text: r.text.slice(0, cut), finishReason: 'stop' };
}
