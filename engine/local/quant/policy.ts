/**
 * Which precision each linear layer gets under each --quant setting.
 *
 * - Transformer blocks (qkv, attention out, MLP up/down): the requested precision. They are
 *   ~98% of GPT-NeoX-20B's weights, so they decide size and memory bandwidth per token.
 * - Output head (embed_out): int8 per-channel even under int4. Every logit passes through it and
 *   it is the single largest tensor of the default model (50304x192 = 9.7M of 23M weights).
 *   Measured on neox-code-23m, first 30 files of code-eval.jsonl, perplexity vs fp32:
 *     fp32 blocks + int4 head        +0.86%
 *     int4 blocks + int8 head        +2.30%   (this policy)
 *     int4 blocks + int4 head        +3.21%
 *   so an int4 head alone adds ~0.9 points, about 40% of what all eight int4 blocks cost, and
 *   would push block-32 int4 past the 3% budget. In GPT-NeoX-20B the head is 50432x6144 = 310M
 *   weights, 1.5% of the model: int8 instead of int4 there costs ~0.15 GB more reads per token
 *   (~1.5% of the ~10.9 GB per token). Under int8 it is int8 like everything else.
 * - Input embeddings (embed_in) are not a linear layer: a Gather of one row per token, float32 in
 *   the external .data file (graph builder). onnxruntime maps that file, so only the rows looked up
 *   become resident and no bandwidth is spent on the rest: quantizing them would save disk, not
 *   time or memory.
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
