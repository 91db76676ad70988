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

export interface RowSpec {
  /** Choice index reported in streamed chunks and results. */
  index: number;
  promptIds: readonly number[];
}

export type OnText = (index: number, text: string) => void;

interface RowState {
  spec: RowSpec;
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
  const states: RowState[] = rows.map((spec) => ({
    spec,
    ids: [],
    rng: createRng(seed, spec.index),
    decoder: new IncrementalDecoder(tokenizer),
    stops: new StopSequenceMatcher(params.stop ?? []),
  }));
  const emit = (s: RowState, text: string) => {
    if (text && onText) onText(s.spec.index, text);
  };
  const finish = (s: RowState, reason: FinishReason) => {
    s.finish = reason;
    emit(s, s.stops.push(s.decoder.flush()));
    emit(s, s.stops.flush());
  };

  const penalised = (params.repetitionPenalty ?? 1) !== 1;
  // active[j] = state living in runner row j
  let active = states.slice();
  let current = logits;
  if (params.maxTokens <= 0) for (const s of states) finish(s, 'length');
  while (active.some((s) => !s.finish)) {
    if (params.signal?.aborted) {
      for (const s of active) if (!s.finish) finish(s, 'cancelled');
      break;
    }
    const next: number[][] = [];
    active.forEach((s, j) => {
      const context = penalised ? [...s.spec.promptIds, ...s.ids] : [];
      const id = chooseToken(current[j]!, context, params, s.rng);
      s.ids.push(id);
      if (id === params.eosTokenId) return finish(s, 'eos');
      emit(s, s.stops.push(s.decoder.push(id)));
      if (s.stops.stopped) return finish(s, 'stop');
      if (s.ids.length >= params.maxTokens) return finish(s, 'length');
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
