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

/**
 * One row's decoding: picks the row's next token from its logits (its own options, random stream,
 * stop strings and signal), streams whole characters, and knows when the row is done. The same
 * object serves a row of generateRows and a row of a continuous batch (continuous-batch.ts).
 */
export class RowDecoder {
  readonly ids: number[] = [];
  finish?: FinishReason;
  private readonly decoder: IncrementalDecoder;
  private readonly stops: StopSequenceMatcher;

  constructor(
    readonly spec: RowSpec,
    readonly params: GenerateParams,
    private readonly rng: Rng,
    tokenizer: Pick<NeoxTokenizer, 'decode'>,
    private readonly onText?: OnText,
  ) {
    this.decoder = new IncrementalDecoder(tokenizer);
    this.stops = new StopSequenceMatcher(params.stop ?? []);
    if (params.maxTokens <= 0) this.end('length');
  }

  /** The token to feed after `logits`, or undefined once the row is done (why: `finish`). */
  step(logits: Float32Array): number | undefined {
    if (this.finish) return undefined;
    if (this.params.signal?.aborted) return this.end('cancelled'); // this row's client left
    const context = (this.params.repetitionPenalty ?? 1) !== 1 ? [...this.spec.promptIds, ...this.ids] : [];
    const id = chooseToken(logits, context, this.params, this.rng);
    this.ids.push(id);
    if (id === this.params.eosTokenId) return this.end('eos');
    this.emit(this.stops.push(this.decoder.push(id)));
    if (this.stops.stopped) return this.end('stop');
    if (this.ids.length >= this.params.maxTokens) return this.end('length');
    return id;
  }

  /** Ends the row (once): what the decoder and the stop matcher still hold is streamed. */
  end(reason: FinishReason): undefined {
    if (this.finish) return undefined;
    this.finish = reason;
    this.emit(this.stops.push(this.decoder.flush()));
    this.emit(this.stops.flush());
    return undefined;
  }

  result(): SequenceResult {
    return { ids: this.ids, text: this.stops.output, finishReason: this.finish ?? 'length' };
  }

  private emit(text: string): void {
    if (text && this.onText) this.onText(this.spec.index, text);
  }
}

/**
 * The decoder of each row: a row that is a request of its own (spec.own) has its own options and
 * the random stream of a request alone (stream 0), so a seeded request samples the same tokens
 * batched or not; the samples of one request share its seed, stream = choice index.
 */
export function rowDecoders(rows: RowSpec[], params: GenerateParams, tokenizer: Pick<NeoxTokenizer, 'decode'>, onText?: OnText): RowDecoder[] {
  const seed = params.seed ?? randomSeed();
  return rows.map((spec) => {
    const p: GenerateParams = spec.own ? { ...params, ...spec.own } : params;
    const rng = spec.own ? createRng(spec.own.seed ?? randomSeed(), 0) : createRng(seed, spec.index);
    return new RowDecoder(spec, p, rng, tokenizer, onText);
  });
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
  const states = rowDecoders(rows, params, tokenizer, onText);
  // active[j] = the row living in runner row j
  let active = states.slice();
  let current = logits;
  while (active.some((s) => !s.finish)) {
    if (params.signal?.aborted) {
      for (const s of active) s.end('cancelled');
      break;
    }
    const next: number[][] = [];
    active.forEach((s, j) => {
      const id = s.step(current[j]!);
      if (id !== undefined) next.push([id]);
    });
    const keep = active.map((s, j) => (s.finish ? -1 : j)).filter((j) => j >= 0);
    if (keep.length === 0) break;
    if (keep.length < active.length) {
      runner.reorder(keep);
      active = keep.map((j) => active[j]!);
    }
    if (params.signal?.aborted) {
      for (const s of active) s.end('cancelled');
      break;
    }
    current = await runner.forward(next);
  }
  return states.map((s) => s.result());
}
