/**
 * Token-by-token generation (greedy or sampled) for several rows at once: n samples of one
 * prompt, or a batch of prompts. Streams whole characters as they come, applies stop
 * sequences, stops at EOS / max tokens, and can be cancelled between any two tokens.
 */
import type { FinishReason } from '../../types';
import type { ModelRunner } from '../runner';
import { IncrementalDecoder, type NeoxTokenizer } from '../tokenizer';
import { chooseToken, type SamplingParams } from './logits';
import { createRng, randomSeed, type Rng } from './rng';
import { StopSequenceMatcher } from './stop-sequences';

export interface GenerateParams extends SamplingParams {
  maxTokens: number;
  stop?: string[];
  seed?: number;
  eosTokenId?: number;
  signal?: AbortSignal;
}

export interface SequenceResult {
  /** Generated ids, including the EOS token when generation ended on it (as Hugging Face returns them). */
  ids: number[];
  text: string;
  finishReason: FinishReason;
}

/** What one row may decide for itself when the rows are different requests (batched serving). */
export type RowParams = Pick<GenerateParams, 'maxTokens' | 'stop' | 'seed' | 'signal' | 'temperature' | 'topK' | 'topP' | 'repetitionPenalty'>;

export interface RowSpec {
  /** Choice index reported in streamed chunks and results. */
  index: number;
  promptIds: readonly number[];
  /**
   * Set when the row is a request of its own: its options replace the shared ones, and its
   * random stream is that of a request alone (stream 0), so a seeded request samples the same
   * tokens batched or not.
   */
  own?: RowParams;
}

export type OnText = (index: number, text: string) => void;

interface RowState {
  spec: RowSpec;
  params: GenerateParams;
  ids: number[];
  rng: Rng;
  decoder: IncrementalDecoder;
  stops: StopSequenceMatcher;
  finish?: FinishReason;
}

/**
 * Generate for `rows` whose prompts are already in the runner's cache (runner row i = rows[i]),
 * starting from `logits[i]`. Rows that finish are dropped from the cache (reorder) so the
 * remaining ones do not pay for them.
 */
export async function generateRows(
  runner: ModelRunner,
  tokenizer: Pick<NeoxTokenizer, 'decode'>,
  rows: RowSpec[],
  logits: Float32Array[],
  params: GenerateParams,
  onText?: OnText,
): Promise<SequenceResult[]> {
  const seed = params.seed ?? randomSeed();
  const states: RowState[] = rows.map((spec) => {
    const p: GenerateParams = spec.own ? { ...params, ...spec.own } : params;
    return {
      spec,
      params: p,
      ids: [],
      rng: spec.own ? createRng(spec.own.seed ?? randomSeed(), 0) : createRng(seed, spec.index),
      decoder: new IncrementalDecoder(tokenizer),
      stops: new StopSequenceMatcher(p.stop ?? []),
    };
  });
  const emit = (s: RowState, text: string) => {
    if (text && onText) onText(s.spec.index, text);
  };
  const finish = (s: RowState, reason: FinishReason) => {
    s.finish = reason;
    emit(s, s.stops.push(s.decoder.flush()));
    emit(s, s.stops.flush());
  };

  // active[j] = state living in runner row j
  let active = states.slice();
  let current = logits;
  for (const s of states) if (s.params.maxTokens <= 0) finish(s, 'length');
  while (active.some((s) => !s.finish)) {
    if (params.signal?.aborted) {
      for (const s of active) if (!s.finish) finish(s, 'cancelled');
      break;
    }
    const next: number[][] = [];
    active.forEach((s, j) => {
      if (s.finish) return; // finished before its first token (maxTokens 0)
      if (s.params.signal?.aborted) return finish(s, 'cancelled'); // this row's client left
      const context = (s.params.repetitionPenalty ?? 1) !== 1 ? [...s.spec.promptIds, ...s.ids] : [];
      const id = chooseToken(current[j]!, context, s.params, s.rng);
      s.ids.push(id);
      if (id === params.eosTokenId) return finish(s, 'eos');
      emit(s, s.stops.push(s.decoder.push(id)));
      if (s.stops.stopped) return finish(s, 'stop');
      if (s.ids.length >= s.params.maxTokens) return finish(s, 'length');
      next.push([id]);
    });
    const keep = active.map((s, j) => (s.finish ? -1 : j)).filter((j) => j >= 0);
    if (keep.length === 0) break;
    if (keep.length < active.length) {
      runner.reorder(keep);
      active = keep.map((j) => active[j]!);
    }
    if (params.signal?.aborted) {
      for (const s of active) finish(s, 'cancelled');
      break;
    }
    current = await runner.forward(next);
  }
  return states.map((s) => ({ ids: s.ids, text: s.stops.output, finishReason: s.finish ?? 'length' }));
}
