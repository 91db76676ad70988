/**
 * n choices from a server that gives one per request: TGI has no `n`, and some OpenAI-compatible
 * servers refuse n > 1 (llama.cpp's server answers 500 "Only one completion choice is allowed").
 * The choices then are n parallel single requests, choice i seeded `seed + i` when a seed is given,
 * their streams and results merged under their choice index. When one request fails the others are
 * cancelled, so a failed call leaves nothing generating on the server.
 */
import type { CompletionResult, TextChunk } from '../types';
import { CancelledError } from './http-errors';

/** What one single request gets: its seed, a signal that also fires when a sibling fails, its stream. */
export interface SingleChoice {
  seed?: number;
  signal?: AbortSignal;
  onChunk?: (c: TextChunk) => void;
}

export async function parallelChoices(
  n: number,
  req: { seed?: number; signal?: AbortSignal },
  onChunk: ((c: TextChunk) => void) | undefined,
  single: (choice: SingleChoice) => Promise<CompletionResult>,
): Promise<CompletionResult> {
  const started = performance.now();
  const siblings = new AbortController();
  const signal = req.signal ? AbortSignal.any([req.signal, siblings.signal]) : siblings.signal;
  const results = await Promise.all(
    Array.from({ length: n }, (_, index) =>
      single({
        seed: req.seed === undefined ? undefined : req.seed + index,
        signal,
        onChunk: onChunk && ((c) => onChunk({ index, text: c.text })),
      }).catch((e: unknown) => {
        if (!siblings.signal.aborted) siblings.abort(new CancelledError());
        throw e;
      }),
    ),
  );
  const firsts = results.map((r) => r.timings?.firstTokenMs).filter((t): t is number => t !== undefined);
  return {
    choices: results.map((r, index) => ({ ...r.choices[0]!, index })),
    usage: {
      promptTokens: results[0]!.usage.promptTokens,
      completionTokens: results.reduce((sum, r) => sum + r.usage.completionTokens, 0),
    },
    timings: { firstTokenMs: firsts.length ? Math.min(...firsts) : undefined, totalMs: performance.now() - started },
  };
}
