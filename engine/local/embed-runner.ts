/**
 * Embeddings on the engine worker's thread: a second onnxruntime session over the embedding graph
 * (onnx/embed-graph.ts), opened on the first embed call, so a process that never embeds pays
 * nothing and generation runs its own graph unchanged. One call = one batch of ragged rows, no KV
 * cache: padding positions get token 0 at position 0, attend only to themselves and weigh 0 in
 * the pooling, so a row's vector does not depend on the rows beside it, at every precision.
 */
import * as ort from 'onnxruntime-node';
import { NeoxError } from '../types';
import type { NeoxConfig } from './config';
import { io, MASKED } from './onnx/neox-graph';
import { SLOT_GRANULE } from './kv-runner';
import { embedOutput, ensureEmbeddingGraph } from './onnx/embed-graph';
import type { Pooling } from './runner';

export class OnnxEmbedRunner {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly config: NeoxConfig,
  ) {}

  /** Derives the embedding graph next to `onnxFile` in `dir` when it is not there yet, and opens it. */
  static async open(dir: string, onnxFile: string, config: NeoxConfig, threads: number): Promise<OnnxEmbedRunner> {
    let file: string;
    try {
      file = ensureEmbeddingGraph(dir, onnxFile, config.numLayers, config.hiddenSize);
    } catch (e) {
      throw new NeoxError((e as Error).message, 'engine_failed');
    }
    const session = await ort.InferenceSession.create(file, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      extra: { session: { intra_op: { allow_spinning: process.env.NEOX_ORT_SPIN === '1' ? '1' : '0' } } },
    });
    return new OnnxEmbedRunner(session, config);
  }

  /** Pooled hidden state `layer` of every row, concatenated: [rows * hiddenSize]. */
  async embed(tokens: number[][], layer: number, pooling: Pooling): Promise<Float32Array> {
    const c = this.config;
    const B = tokens.length;
    let T = 0;
    for (const row of tokens) T = Math.max(T, row.length);
    const { numHeads: H, headSize: hs } = c;
    // An empty cache of C slots that the graph writes each row's keys/values into (as a generation
    // from an empty cache would, so a row's vector is the same alone and in a batch).
    const C = Math.ceil(T / SLOT_GRANULE) * SLOT_GRANULE;
    const ids = new BigInt64Array(B * T);
    const pos = new BigInt64Array(B * T);
    const bias = new Float32Array(B * T * C).fill(MASKED);
    const write = new BigInt64Array(B * H * T * 3);
    const weights = new Float32Array(B * T);
    for (let b = 0; b < B; b++) {
      const row = tokens[b];
      for (let t = 0; t < T; t++) {
        const base = (b * T + t) * C;
        for (let h = 0; h < H; h++) {
          const at = ((b * H + h) * T + t) * 3;
          write[at] = BigInt(b);
          write[at + 1] = BigInt(h);
          write[at + 2] = BigInt(t);
        }
        if (t < row.length) {
          ids[b * T + t] = BigInt(row[t]);
          pos[b * T + t] = BigInt(t);
          bias.fill(0, base, base + t + 1);
        } else {
          bias[base + t] = 0;
        }
      }
      if (pooling === 'mean') weights.fill(1 / row.length, b * T, b * T + row.length);
      else weights[b * T + row.length - 1] = 1;
    }
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', ids, [B, T]),
      position_ids: new ort.Tensor('int64', pos, [B, T]),
      attention_bias: new ort.Tensor('float32', bias, [B, 1, T, C]),
      kv_write_index: new ort.Tensor('int64', write, [B, H, T, 3]),
      pool_weights: new ort.Tensor('float32', weights, [B, T]),
    };
    // The graph reads the cache but never changes it: one zero buffer serves every layer.
    const empty = new Float32Array(B * H * C * hs);
    const dims = [B, H, C, hs];
    for (let l = 0; l < c.numLayers; l++) {
      feeds[io.pastKey(l)] = new ort.Tensor('float32', empty, dims);
      feeds[io.pastValue(l)] = new ort.Tensor('float32', empty, dims);
    }
    const name = embedOutput(layer);
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await this.session.run(feeds, [name]);
    } catch (e) {
      throw new NeoxError(`onnxruntime failed: ${(e as Error).message}`, 'engine_failed');
    }
    let data = out[name].data as Float32Array;
    if (data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength) data = data.slice();
    return data;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
