/**
 * Text embeddings on the local engine, the caller's half: options, batching and normalisation.
 * The worker computes pooled hidden states (embed-runner.ts over onnx/embed-graph.ts).
 *
 * Texts are sorted by length and cut into batches of at most EMBED_MAX_ROWS rows and
 * EMBED_BATCH_TOKENS padded tokens, so a batch wastes little on padding and each batch is one
 * short turn on the runner (a completion waiting for it goes in between two batches).
 */
import { NeoxError, type EmbedInput, type EmbedOptions } from '../types';
import { POOLINGS, type Pooling } from './runner';

export const EMBED_MAX_ROWS = 32;
export const EMBED_BATCH_TOKENS = 4096;

export interface ResolvedEmbedOptions {
  layer: number;
  pooling: Pooling;
  normalize: boolean;
  truncate: boolean;
}

/** Options with their defaults (layer: the last hidden state, after the final layer norm); errors name the option. */
export function resolveEmbedOptions(o: EmbedOptions | undefined, numLayers: number): ResolvedEmbedOptions {
  const layer = o?.layer ?? numLayers;
  if (!Number.isInteger(layer) || layer < 0 || layer > numLayers) {
    throw new NeoxError(`embed: layer must be an integer in 0..${numLayers} (0 = token embeddings, ${numLayers} = after the final layer norm; got ${o?.layer})`, 'bad_request');
  }
  const pooling = o?.pooling ?? 'mean';
  if (!POOLINGS.includes(pooling)) throw new NeoxError(`embed: pooling must be one of ${POOLINGS.join(', ')} (got ${JSON.stringify(o?.pooling)})`, 'bad_request');
  return { layer, pooling, normalize: !!o?.normalize, truncate: !!o?.truncate };
}

/**
 * Token rows for `inputs` (texts are encoded, token-id inputs checked against `vocabSize`): empty
 * inputs are refused, long ones refused or cut (truncate).
 */
export function embedRows(inputs: EmbedInput[], encode: (t: string) => number[], contextLength: number, truncate: boolean, vocabSize = Infinity): number[][] {
  if (!Array.isArray(inputs)) throw new NeoxError('embed: inputs must be an array of strings or of token-id arrays', 'bad_request');
  return inputs.map((t, i) => {
    const ids = typeof t === 'string' ? encode(t) : checkIds(t, i, vocabSize);
    if (ids.length === 0) throw new NeoxError(`embed: input ${i} is empty (no tokens)`, 'bad_request');
    if (ids.length > contextLength) {
      if (truncate) return ids.slice(0, contextLength);
      throw new NeoxError(`embed: input ${i} has ${ids.length} tokens, more than the model's context length ${contextLength}`, 'context_exceeded');
    }
    return ids;
  });
}

function checkIds(ids: unknown, i: number, vocabSize: number): number[] {
  if (!Array.isArray(ids)) throw new NeoxError(`embed: input ${i} is neither a string nor an array of token ids`, 'bad_request');
  const bad = ids.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
  if (bad >= 0) throw new NeoxError(`embed: input ${i} token ${bad} is ${JSON.stringify(ids[bad])}, not a token id (an integer from 0 to ${vocabSize - 1})`, 'bad_request');
  return ids as number[];
}

/** Row indices grouped into batches: longest first, each within EMBED_MAX_ROWS rows and EMBED_BATCH_TOKENS padded tokens. */
export function embedBatches(rows: number[][], maxRows = EMBED_MAX_ROWS, maxTokens = EMBED_BATCH_TOKENS): number[][] {
  const order = rows.map((_, i) => i).sort((a, b) => rows[b].length - rows[a].length || a - b);
  const batches: number[][] = [];
  let cur: number[] = [];
  for (const i of order) {
    // Sorted longest first: the batch's padded length is its first row's.
    const width = cur.length ? rows[cur[0]].length : rows[i].length;
    if (cur.length && (cur.length >= maxRows || (cur.length + 1) * width > maxTokens)) {
      batches.push(cur);
      cur = [];
    }
    cur.push(i);
  }
  if (cur.length) batches.push(cur);
  return batches;
}

/** Runs `rows` through `run` batch by batch and returns one vector per row, in order. */
export async function embedAll(
  rows: number[][],
  run: (batch: number[][]) => Promise<Float32Array[]>,
  normalize: boolean,
  signal?: AbortSignal,
): Promise<number[][]> {
  const out: number[][] = new Array(rows.length);
  for (const batch of embedBatches(rows)) {
    if (signal?.aborted) throw new NeoxError('embed: cancelled', 'cancelled');
    const vecs = await run(batch.map((i) => rows[i]));
    batch.forEach((i, k) => (out[i] = toVector(vecs[k], normalize)));
  }
  return out;
}

function toVector(v: Float32Array, normalize: boolean): number[] {
  const a = Array.from(v);
  if (!normalize) return a;
  let ss = 0;
  for (const x of a) ss += x * x;
  const n = Math.sqrt(ss);
  return n > 0 ? a.map((x) => x / n) : a;
}
