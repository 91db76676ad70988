/**
 * Where the graph builder gets its weights: one float32 tensor at a time, so converting a model
 * never holds more than about one layer in memory. The checkpoint reader implements it; a
 * benchmark can implement it with random numbers of the GPT-NeoX-20B shape.
 */
import type { NeoxConfig } from './config';

export interface WeightSource {
  readonly config: NeoxConfig;
  /** Whether the source has a tensor (e.g. `embed_out.weight` is absent when embeddings are tied). */
  has(name: string): boolean;
  /**
   * A fresh float32 copy of tensor `name` in the checkpoint's layout (torch Linear weights are
   * [out, in]). Throws NeoxError naming the file and tensor when it is missing, has another shape
   * than `shape`, or cannot be read.
   */
  tensor(name: string, shape: number[]): Float32Array;
  /** Release file handles. */
  close(): void;
}

/** Hugging Face tensor names of GPT-NeoX. */
export const names = {
  embedIn: 'gpt_neox.embed_in.weight',
  embedOut: 'embed_out.weight',
  finalNorm: (p: 'weight' | 'bias') => `gpt_neox.final_layer_norm.${p}`,
  layer: (i: number, rest: string) => `gpt_neox.layers.${i}.${rest}`,
};
