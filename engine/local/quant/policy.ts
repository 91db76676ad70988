/**
 * Which precision each linear layer gets under each --quant setting.
 *
 * - Transformer blocks (qkv, attention out, MLP up/down): the requested precision. They are
 *   ~98% of GPT-NeoX-20B's weights, so they decide size and memory bandwidth per token.
 * - Output head (embed_out): int8 per-channel even under int4. Measured on neox-code-23m
 *   (code-eval.jsonl, see test/engine/quant-ppl.test.ts): the head is the single largest tensor
 *   of that model (50304x192 = 9.7M of 23M weights) and every logit passes through it, so its
 *   4-bit error lands directly on the next-token distribution: quantizing it to int4 costs more
 *   perplexity than all eight blocks together. In GPT-NeoX-20B the head is 50432x6144
 *   = 310M weights, 1.5% of the model: int8 instead of int4 costs ~0.15 GB of reads per token
 *   (+~5% time at the bandwidth floor) for the same protection. Under int8 it is int8.
 * - Input embeddings (embed_in) are not a linear layer: they are a Gather of a few rows per token,
 *   so they cost no bandwidth and stay in the checkpoint precision (handled by the graph builder).
 * - LayerNorm weights and biases: tiny, stay fp32.
 */
import type { Quantization } from '../runner';
import type { LinearRole } from '../onnx/linear';

export type LinearPrecision = 'fp32' | 'int8' | 'int4';

export function linearPrecision(role: LinearRole, quant: Quantization): LinearPrecision {
  if (quant === 'fp32') return 'fp32';
  if (role === 'head') return 'int8';
  return quant;
}
