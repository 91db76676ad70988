/**
 * The seam between the ONNX model (graph + onnxruntime session + KV cache, living in a
 * worker thread) and the decoding code (tokenizer, sampling, beam search, stop rules,
 * prefix reuse) that runs on the caller's thread.
 *
 * A runner holds a KV cache of `rows` sequences. Every call appends tokens to each row's
 * cache and returns logits; decoding never sees keys or values.
 */

import type { Quantization } from '../types';

export type { Quantization };

/** How an embedding pools a text's hidden states: their mean, or the last token's. */
export type Pooling = 'mean' | 'last';
export const POOLINGS: readonly Pooling[] = ['mean', 'last'];

export interface LoadOptions {
  /** Hugging Face checkpoint folder (config.json, *.safetensors, tokenizer.json). */
  modelDir: string;
  quant: Quantization;
  /** int4 block size (32 default, 128 option). */
  blockSize?: number;
  /**
   * How int4 block scales are chosen (engine/local/quant/int4.ts): 'search' (default, clipping
   * search, least error), 'search-coarse' (3-ratio grid: faster conversion of very large models),
   * 'rtn' (plain absmax rounding: the baseline, for measurements).
   */
  int4Scales?: 'search' | 'search-coarse' | 'rtn';
  /** Where built ONNX models are cached (default: user cache folder). */
  cacheDir?: string;
  /** onnxruntime intra-op threads (default: cores). */
  threads?: number;
  /**
   * Hugging Face PEFT LoRA adapter folders (adapter_config.json + adapter_model.safetensors),
   * merged into the weights in this order before quantization (lora.ts); part of the build's cache key.
   */
  adapters?: string[];
}

export interface RunnerInfo {
  vocabSize: number;
  /** max_position_embeddings */
  contextLength: number;
  eosTokenId: number;
  /** Folder holding the built .onnx + .data */
  onnxPath: string;
  /** Human-readable architecture summary for `neox info`. */
  summary: Record<string, unknown>;
  /** Transformer blocks and hidden size (embeddings: hidden states 0..numLayers of hiddenSize floats). */
  numLayers?: number;
  hiddenSize?: number;
}

export interface ModelRunner {
  readonly info: RunnerInfo;
  /** Rows in the cache (batch size). */
  readonly rows: number;
  /** Empty the cache and size it for `rows` sequences. */
  reset(rows: number): void;
  /**
   * Append `tokens[r]` to row r's cache and return, per row, the logits (length vocabSize)
   * of its last new position — or, with `allLogits`, of every new position concatenated
   * ([n_new * vocabSize]). Rows may have different lengths (ragged prompts): the runner
   * pads and masks internally so results equal running each row alone.
   */
  forward(tokens: number[][], opts?: { allLogits?: boolean }): Promise<Float32Array[]>;
  /**
   * Perplexity fast path: appends `tokens` like forward() and returns, per row, the
   * log-probability of `next[r][i]` at position i of `tokens[r]` (same length as tokens[r]).
   * log_softmax runs inside the model, so no [n x vocab] logits are copied. Optional: callers
   * fall back to forward({ allLogits }) when a runner lacks it.
   */
  scoreNext?(tokens: number[][], next: number[][]): Promise<Float32Array[]>;
  /** Beam search: new row i becomes a copy of old row src[i]; the row count becomes src.length. */
  reorder(src: number[]): void;
  /** Keep only the first `len` cached positions of every row (prefix reuse). */
  truncate(len: number): void;
  /**
   * forward() of rows first .. first + tokens.length - 1 only (last-position logits); the other rows
   * are not computed and keep their caches. Continuous batching runs joining prompts apart from the
   * decoding rows with it.
   */
  forwardRows(first: number, tokens: number[][]): Promise<Float32Array[]>;
  /** Continuous batching: append `count` empty rows; the other rows keep their caches. */
  addRows(count: number): void;
  /** Keep only the first `len` cached positions of `row` (a row copied from another, cut to their shared prefix). */
  truncateRow(row: number, len: number): void;
  /**
   * Embeddings (onnx/embed-graph.ts): per row, hidden state `layer` (0 = token embeddings, k = output
   * of block k, numLayers = after the final layer norm, as transformers' output_hidden_states) pooled
   * over the row's tokens. Uses no KV cache and leaves it as it is. Optional: runners without it
   * cannot embed.
   */
  embed?(tokens: number[][], opts: { layer: number; pooling: Pooling }): Promise<Float32Array[]>;
  /** Token ids whose keys/values are cached for `row`, in order. */
  cachedTokens(row: number): number[];
  dispose(): Promise<void>;
}
