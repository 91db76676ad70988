/**
 * Generations on a loaded model, each called when its turn in the runner's queue has come: one
 * request (prefix reuse, then sampling or beam search), or several prompts with the same options.
 * Requests of a shared server run as one continuous batch instead (continuous-batch.ts), which
 * takes the prompt checks and beam results from here.
 */
import { NeoxError, type CompletionRequest, type CompletionResult, type DecodingOptions, type TextChunk } from '../types';
import type { ModelRunner } from './runner';
import type { NeoxTokenizer } from './tokenizer';
import { prefillWithReuse } from './decoding/prefix-cache';
import { generateRows, type RowSpec, type SequenceResult } from './decoding/generate';
import { beamSearch } from './decoding/beam-search';
import { applyStops, cancelledResult, toResult } from './completion-result';

export interface LoadedModel {
  runner: ModelRunner;
  tokenizer: NeoxTokenizer;
}

export const eosId = (m: LoadedModel) => m.runner.info.eosTokenId ?? m.tokenizer.eosTokenId;

/**
 * Prompt ids within the context window: `given` (the caller's tokenization of `text`) or `text`
 * encoded here; an empty prompt starts from BOS/EOS (id of <|endoftext|>).
 */
export function promptIds(m: LoadedModel, text: string, given?: number[]): number[] {
  const ids = given ? given.slice() : m.tokenizer.encode(text);
  if (ids.length === 0) ids.push(eosId(m) ?? 0);
  const ctx = m.runner.info.contextLength;
  if (ids.length >= ctx) {
    throw new NeoxError(`prompt is ${ids.length} tokens; the model's context holds ${ctx} (prompt + completion)`, 'prompt_too_long');
  }
  return ids;
}

/** The tokens a completion may add after a prompt of `promptLength` tokens: what it asks for, within the context. */
export function tokenBudget(m: LoadedModel, maxTokens: number, promptLength: number): number {
  return Math.min(maxTokens, m.runner.info.contextLength - promptLength);
}

export async function completeOne(m: LoadedModel, req: CompletionRequest, onChunk?: (c: TextChunk) => void): Promise<CompletionResult> {
  const t0 = performance.now();
  const ids = promptIds(m, req.prompt, req.promptIds);
  const n = req.n ?? 1;
  if (req.signal?.aborted) return cancelledResult(n, ids.length, t0);
  const maxTokens = tokenBudget(m, req.maxTokens, ids.length);
  const { logits, reused } = await prefillWithReuse(m.runner, ids);
  const firstAt = performance.now(); // the first token is picked from these logits right away
  const results = (req.numBeams ?? 1) > 1 ? await beams(m, req, logits, maxTokens, onChunk) : await samples(m, req, ids, logits, maxTokens, onChunk);
  return toResult(results, ids.length, t0, firstAt, reused);
}

async function beams(m: LoadedModel, req: CompletionRequest, logits: Float32Array, maxTokens: number, onChunk?: (c: TextChunk) => void): Promise<SequenceResult[]> {
  const found = await beamSearch(m.runner, m.tokenizer, logits, {
    numBeams: req.numBeams!,
    maxTokens,
    lengthPenalty: req.lengthPenalty,
    earlyStopping: req.earlyStopping,
    eosTokenId: eosId(m),
    numReturn: req.n ?? 1,
    signal: req.signal,
  });
  return finishBeams(found, req.stop, onChunk);
}

/** Beam search returns whole texts at the end: stop strings are applied to them, and each is streamed as one chunk. */
export function finishBeams(found: SequenceResult[], stop: string[] | undefined, onChunk?: (c: TextChunk) => void): SequenceResult[] {
  const results = found.map((r) => applyStops(r, stop));
  if (onChunk) results.forEach((r, index) => r.text && onChunk({ index, text: r.text }));
  return results;
}

function samples(m: LoadedModel, req: CompletionRequest, ids: number[], logits: Float32Array, maxTokens: number, onChunk?: (c: TextChunk) => void): Promise<SequenceResult[]> {
  const n = req.n ?? 1;
  if (n > 1) m.runner.reorder(new Array<number>(n).fill(0));
  const rows = Array.from({ length: n }, (_, index) => ({ index, promptIds: ids }));
  return generateRows(m.runner, m.tokenizer, rows, new Array(n).fill(logits), { ...req, maxTokens, eosTokenId: eosId(m) }, (index, text) => onChunk?.({ index, text }));
}

/** One row per prompt, the same decoding options for all. */
export async function completePrompts(m: LoadedModel, prompts: string[], o: DecodingOptions & { signal?: AbortSignal }, onChunk?: (c: TextChunk) => void): Promise<CompletionResult> {
  const t0 = performance.now();
  const all = prompts.map((p) => promptIds(m, p));
  if (o.signal?.aborted) return cancelledResult(prompts.length, 0, t0);
  const maxTokens = tokenBudget(m, o.maxTokens, Math.max(...all.map((p) => p.length)));
  m.runner.reset(all.length);
  const logits = await m.runner.forward(all);
  const firstAt = performance.now();
  const rows = all.map((promptIds, index) => ({ index, promptIds }));
  const results = await generateRows(m.runner, m.tokenizer, rows, logits, { ...o, maxTokens, eosTokenId: eosId(m) }, (index, text) => onChunk?.({ index, text }));
  return toResult(results, all.reduce((s, p) => s + p.length, 0), t0, firstAt, 0);
}
