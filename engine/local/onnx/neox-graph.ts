/**
 * GPT-NeoX as an ONNX graph with an external KV cache.
 *
 * Inputs:  input_ids [B,T] int64, position_ids [B,T] int64, attention_bias [B,1,T,C] float
 *          (0 = attend, large negative = masked; C = the cache's capacity in slots),
 *          kv_write_index [B,H,T,3] int64 (where each new key/value goes: (b, h, slot) for new
 *          position t of row b, head h), logits_index [M] int64 (rows of the flattened
 *          [B*T] positions whose logits are wanted), past_key_i / past_value_i [B,H,C,hs] per
 *          layer, target_rows [R] int64 and target_ids [R] int64 (rows of the M logits whose
 *          log-probability of target_ids is wanted; empty when none is).
 * Outputs: logits [M,V], target_logprob [R] (log_softmax(logits)[target_rows[r], target_ids[r]],
 *          for perplexity without copying M x V logits out), present_key_i / present_value_i
 *          [B,H,T,hs]: only the NEW positions.
 *
 * Each row owns its slots (row b's i-th token in slot i of its [H,C,hs] block), the new keys and
 * values are scattered right after the row's own tokens, and attention runs over all C slots with
 * the unused ones masked. So a row's tokens sit at the same slots, and its attention sums run in
 * the same order, alone, beside longer rows, or on top of a cached prefix: every precision gives
 * the same numbers per row (a masked slot adds an exact 0). C stays a multiple of 64 so vectorized
 * reductions over slots see the same lanes whatever the capacity.
 *
 * onnxruntime-node does not copy inputs, so the caller's cache buffer is fed as is; it copies
 * every output, so only the new keys/values come back, and gathering hidden states before the
 * output head keeps prefill from copying T x vocab logits.
 */
import type { NeoxConfig } from '../config';
import type { LoadProgress } from '../../types';
import type { WeightSource } from '../weights';
import { names } from '../weights';
import { DataType } from './onnx-proto';
import { GraphBuilder } from './graph';
import { emitLinear } from './linear';
import { rotaryCaches } from './rotary';
import type { LinearOptions, LinearRole } from './linear-spec';
import { GptqCalibration, type CalibratedLinear } from '../quant/gptq-calibration';

export const MASKED = -1e30;

export const io = {
  pastKey: (i: number) => `past_key_${i}`,
  pastValue: (i: number) => `past_value_${i}`,
  presentKey: (i: number) => `present_key_${i}`,
  presentValue: (i: number) => `present_value_${i}`,
};

export function buildNeoxGraph(
  src: WeightSource,
  dataPath: string,
  onnxPath: string,
  opts: LinearOptions,
  onProgress?: (p: LoadProgress) => void,
): void {
  const c = src.config;
  const { hiddenSize: D, numHeads: H, headSize: hs, intermediateSize: F, vocabSize: V, rotaryDims: R } = c;
  const g = new GraphBuilder(dataPath);
  try {
    const f32 = DataType.FLOAT;
    const i64 = DataType.INT64;
    const inputIds = g.input({ name: 'input_ids', elemType: i64, shape: ['batch', 'new'] });
    const positionIds = g.input({ name: 'position_ids', elemType: i64, shape: ['batch', 'new'] });
    const bias = g.input({ name: 'attention_bias', elemType: f32, shape: ['batch', 1, 'new', 'capacity'] });
    const writeIndex = g.input({ name: 'kv_write_index', elemType: i64, shape: ['batch', H, 'new', 3] });
    const logitsIndex = g.input({ name: 'logits_index', elemType: i64, shape: ['selected'] });
    const targetRows = g.input({ name: 'target_rows', elemType: i64, shape: ['scored'] });
    const targetIds = g.input({ name: 'target_ids', elemType: i64, shape: ['scored'] });
    for (let l = 0; l < c.numLayers; l++) {
      g.input({ name: io.pastKey(l), elemType: f32, shape: ['batch', H, 'capacity', hs] });
      g.input({ name: io.pastValue(l), elemType: f32, shape: ['batch', H, 'capacity', hs] });
    }
    const progress = (done: number, message: string) =>
      onProgress?.({ stage: 'convert', message, fraction: done / (c.numLayers + 2) });

    // Embedding.
    let embed: Float32Array | null = src.tensor(names.embedIn, [V, D]);
    g.initializer('embed_in', embed, [V, D]);
    // Calibrated int4 (GPTQ) runs alongside the conversion, one layer at a time.
    const calibration = GptqCalibration.start(src, opts, embed);
    // Tied checkpoints (transformers ties whenever tie_word_embeddings is true) reuse embed_in as the head.
    if (!c.tiedEmbeddings) embed = null;
    let x = g.op('Gather', ['embed_in', inputIds], { axis: 0 });
    progress(1, 'embeddings');

    if (R > 0) {
      const t = rotaryCaches(c);
      g.initializer('rotary_cos', t.cos, [c.maxPositions, R / 2]);
      g.initializer('rotary_sin', t.sin, [c.maxPositions, R / 2]);
    }
    // Rotates the first R dims of each head of x [B,H,T,hs] (GPT-NeoX's rotate_half, not interleaved).
    const rotate = (x: string, name?: string) =>
      R > 0
        ? g.node('RotaryEmbedding', [x, positionIds, 'rotary_cos', 'rotary_sin'], name ? [name] : 1, { interleaved: 0, num_heads: H, rotary_embedding_dim: R }, 'com.microsoft')[0]
        : x;
    const shapeQkv = g.constInt64([0, 0, H, 3 * hs], 'shape_qkv');
    const shapeBTD = g.constInt64([0, 0, D], 'shape_btd');
    const shapeND = g.constInt64([-1, D], 'shape_nd');
    const splitQkv = g.constInt64([hs, hs, hs], 'split_qkv');
    const scale = g.constFloat([1 / Math.sqrt(hs)], [], 'attn_scale');

    const layerNorm = (input: string, prefix: string, tensorPrefix: string) => {
      const w = g.initializer(`${prefix}.weight`, src.tensor(`${tensorPrefix}.weight`, [D]), [D]);
      const b = g.initializer(`${prefix}.bias`, src.tensor(`${tensorPrefix}.bias`, [D]), [D]);
      return g.op('LayerNormalization', [input, w, b], { axis: -1, epsilon: { float: c.layerNormEps } });
    };
    // The current layer's linears as the calibration read (and quantized) them, if calibrated.
    let calibrated: Map<LinearRole, CalibratedLinear> | undefined;
    const linear = (input: string, name: string, tensor: string, role: LinearRole, N: number, K: number) => {
      // torch layout [N, K]; emitLinear transposes where the format needs it (not for int4)
      const pre = calibrated?.get(role);
      const w = pre?.weight ?? src.tensor(`${tensor}.weight`, [N, K]);
      const b = pre?.bias ?? src.tensor(`${tensor}.bias`, [N]);
      return emitLinear(g, input, { name, role, weight: w, K, N, bias: b, layout: 'NK', int4: pre?.int4 }, opts);
    };

    for (let l = 0; l < c.numLayers; l++) {
      const t = (rest: string) => names.layer(l, rest);
      const p = `layers.${l}`;
      calibrated = calibration?.layer(l);
      // Attention.
      const ln1 = layerNorm(x, `${p}.input_layernorm`, t('input_layernorm'));
      const qkv = linear(ln1, `${p}.attention.query_key_value`, t('attention.query_key_value'), 'attention.qkv', 3 * D, D);
      // query_key_value output is interleaved per head: [q, k, v] for head 0, then head 1, ...
      const [q, k, v] = g.node('Split', [g.op('Reshape', [qkv, shapeQkv]), splitQkv], 3, { axis: 3 }); // [B,T,H,hs]
      const toHeads = (x: string, name?: string) => g.node('Transpose', [x], name ? [name] : 1, { perm: [0, 2, 1, 3] })[0]; // [B,H,T,hs]
      // New keys/values [B,H,T,hs], scattered into a copy of the cache right after each row's tokens.
      const newK = R > 0 ? rotate(toHeads(k), io.presentKey(l)) : toHeads(k, io.presentKey(l));
      const newV = toHeads(v, io.presentValue(l));
      g.output({ name: newK, elemType: f32, shape: ['batch', H, 'new', hs] });
      g.output({ name: newV, elemType: f32, shape: ['batch', H, 'new', hs] });
      // Indices address the 4-D cache as is: a Reshape of a graph input would copy the whole cache.
      const withNew = (past: string, added: string) => g.op('ScatterND', [past, writeIndex, added]);
      const kAll = withNew(io.pastKey(l), newK); // [B,H,C,hs]
      const vAll = withNew(io.pastValue(l), newV);
      const qB = g.op('Mul', [rotate(toHeads(q)), scale]); // [B,H,T,hs]
      const scores = g.op('Add', [g.op('MatMul', [qB, g.op('Transpose', [kAll], { perm: [0, 1, 3, 2] })]), bias]);
      const probs = g.op('Softmax', [scores], { axis: -1 });
      const ctx = g.op('Transpose', [g.op('MatMul', [probs, vAll])], { perm: [0, 2, 1, 3] }); // [B,T,H,hs]
      const attn = linear(g.op('Reshape', [ctx, shapeBTD]), `${p}.attention.dense`, t('attention.dense'), 'attention.dense', D, D);

      // MLP, in parallel with attention (GPT-NeoX-20B, Pythia) or after it.
      const mlpIn = c.parallelResidual ? x : g.op('Add', [attn, x]);
      const ln2 = layerNorm(mlpIn, `${p}.post_attention_layernorm`, t('post_attention_layernorm'));
      const up = linear(ln2, `${p}.mlp.dense_h_to_4h`, t('mlp.dense_h_to_4h'), 'mlp.up', F, D);
      const act = g.op('Gelu', [up], { approximate: c.activation === 'gelu_fast' ? 'tanh' : 'none' });
      const mlp = linear(act, `${p}.mlp.dense_4h_to_h`, t('mlp.dense_4h_to_h'), 'mlp.down', D, F);
      x = c.parallelResidual ? g.op('Add', [g.op('Add', [mlp, attn]), x]) : g.op('Add', [mlp, mlpIn]);
      calibrated = undefined;
      progress(l + 2, `layer ${l + 1}/${c.numLayers}`);
    }

    // Only the requested positions go through the final norm and the (large) output head.
    const selected = g.op('Gather', [g.op('Reshape', [x, shapeND]), logitsIndex], { axis: 0 });
    const lnf = layerNorm(selected, 'final_layer_norm', 'gpt_neox.final_layer_norm');
    const head = embed ?? src.tensor(names.embedOut, [V, D]);
    embed = null;
    const logits = emitLinear(g, lnf, { name: 'embed_out', role: 'head', weight: head, K: D, N: V, layout: 'NK' }, opts);
    g.node('Identity', [logits], ['logits']);
    g.output({ name: 'logits', elemType: f32, shape: ['selected', V] });
    // LogSoftmax runs vectorized in onnxruntime; fetched alone it spares copying the logits. Only the
    // scored rows go through it, so a generation step (no row scored) pays nothing for it.
    const axis1 = g.constInt64([1], 'axis_1');
    const scored = g.op('Gather', [logits, targetRows], { axis: 0 });
    const picked = g.op('GatherElements', [g.op('LogSoftmax', [scored], { axis: -1 }), g.op('Unsqueeze', [targetIds, axis1])], { axis: 1 });
    g.node('Squeeze', [picked, axis1], ['target_logprob']);
    g.output({ name: 'target_logprob', elemType: f32, shape: ['scored'] });
    g.finish(onnxPath, { neox_config: JSON.stringify(c) });
    progress(c.numLayers + 2, 'written');
  } catch (e) {
    g.abort();
    throw e;
  }
}
