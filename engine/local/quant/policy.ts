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
 *
 * int4 quality beyond precision choices: calibration, not more int8 layers (the target: int4
 * block-32 greedy continuations equal the fp32 reference's first 8 tokens for >= 70% of 46 prompts).
 * Measured on neox-code-23m, agreement of 46 prompts / perplexity vs fp32 on the first 20 files of
 * code-eval.jsonl (all 100 files: test/engine/quant-ppl.test.ts):
 *   clipping-ratio scale search, no calibration                         26/46  +2.45%
 *   the same + fp32 head / qkv+MLP-up int8 / block 16 (earlier runs)    28 / 31 / 30
 *   GPTQ on fp32 inputs, 1024 calibration tokens                        31/46  +1.95%
 *     + layer 0 int8 / last layer int8 / both (llama.cpp Q4_K_M-like)   30 / 30 / 30
 *     with act-order (static groups)                                    29/46  +1.89%
 *     3781 tokens                                                       30/46  +1.35%
 *   GPTQ true sequential (inputs from the already quantized layers)
 *     1024 tokens                                                       32/46  +2.17%
 *     1024 tokens, act-order                                            31/46  +1.83%
 *     2048 tokens  (this build: ensureModel, model-cache.ts)            34/46  +1.76%
 *     3781 tokens                                                       34/46  +1.56%
 * Keeping first/last layers at int8 bought nothing once calibrated, so every block stays int4: for
 * GPT-NeoX-20B that keeps the per-token read at the int4 size. Calibration itself (a JS float32
 * forward pass + an H = X^T X per linear, quant/calibrate.ts) is for checkpoints of modest size:
 * above CALIBRATION_MAX_COST (e.g. a 20B checkpoint, whose MLP-down H alone would be 4.8 GB) and in
 * the 20B-shaped benchmark, int4 converts uncalibrated with the scale search (+2.27% above).
 */
import type { Quantization } from '../runner';
import type { LinearRole } from '../onnx/linear-spec';

export type LinearPrecision = 'fp32' | 'int8' | 'int4';

export function linearPrecision(role: LinearRole, quant: Quantization): LinearPrecision {
  if (quant === 'fp32') return 'fp32';
  if (role === 'head') return 'int8';
  return quant;
}
