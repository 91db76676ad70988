/**
 * Calibration for int4 (GPTQ, quant/gptq.ts): a float32 GPT-NeoX forward pass in plain JS over a
 * few hundred tokens of calibration text, run one layer at a time alongside the conversion, that
 * collects for every linear layer the Gram matrix of its inputs, H = X^T X [K, K].
 *
 * Why in JS and not through onnxruntime: the conversion streams the checkpoint layer by layer and
 * is synchronous; a JS pass needs only the layer's weights that conversion reads anyway plus the
 * residual stream [T, D] (T calibration tokens), so peak memory stays about one layer. The pass
 * follows transformers' GPTNeoX exactly (LayerNorm, partial rotary with the same float32 tables as
 * the graph, causal softmax attention, exact or tanh GELU, parallel or sequential residual).
 *
 * Cost is T x (weights of the blocks) multiply-adds plus T x K^2 / 2 for each H: a few seconds for
 * the default 23M model at T = 1024. It is meant for small and mid-sized models; for a 20B model
 * the H of the MLP down projection alone would be 24576^2 floats (2.4 GB), so the builder only
 * calibrates when given calibration tokens (ensureModel does for real checkpoints, bench/20b.ts
 * does not).
 */
import type { NeoxConfig } from '../config';
import { rotaryTables } from '../onnx/rotary';

/**
 * Rough multiply-add count of calibrating a model on `tokens` tokens: the forward pass, the Gram
 * matrices and GPTQ (including its K^3 factorisations). The JS pass runs ~0.6e9 of these per second
 * on this project's CPU (the default model: ~1.8e10, ~30 s).
 */
export function calibrationCost(c: NeoxConfig, tokens: number): number {
  const D = c.hiddenSize;
  const F = c.intermediateSize;
  const forward = tokens * (3 * D * D + D * D + 2 * D * F);
  const grams = (tokens * (3 * D * D + F * F)) / 2;
  const gptq = (3 * D * D * D + D * D * D + F * D * D + D * F * F) / 2 + 3 * D * D * D + F * F * F;
  return c.numLayers * (forward + grams + gptq);
}

/**
 * Above this (~3 minutes) calibration is skipped and int4 falls back to the uncalibrated scale
 * search. At 2048 tokens: the default model 1.8e10, Pythia-70M 1.3e11, Pythia-160M 7.4e11,
 * GPT-NeoX-20B 8.8e14 (days in JS, and its MLP-down H alone would be 24576^2 doubles, 4.8 GB).
 */
export const CALIBRATION_MAX_COST = 1e11;

/** Weights of one layer in torch layout (Linear [out, in]). */
export interface LayerWeights {
  ln1: { weight: Float32Array; bias: Float32Array };
  ln2: { weight: Float32Array; bias: Float32Array };
  qkv: { weight: Float32Array; bias: Float32Array };
  dense: { weight: Float32Array; bias: Float32Array };
  up: { weight: Float32Array; bias: Float32Array };
  down: { weight: Float32Array; bias: Float32Array };
}

/** H = X^T X for the four linear inputs of one layer, K x K row-major (float64 accumulation). */
export interface LayerGrams {
  qkv: Float64Array;
  dense: Float64Array;
  up: Float64Array;
  down: Float64Array;
}

export class CalibrationForward {
  private readonly c: NeoxConfig;
  /** Residual stream [T, D] over all sequences concatenated. */
  private x: Float32Array;
  private readonly seqs: { start: number; len: number }[] = [];
  private readonly positions: Int32Array;
  private readonly cos: Float32Array;
  private readonly sin: Float32Array;
  readonly tokens: number;

  /** `sequences`: token ids, each attended causally on its own. `embedIn`: [V, D]. */
  constructor(config: NeoxConfig, sequences: number[][], embedIn: Float32Array) {
    this.c = config;
    const D = config.hiddenSize;
    let T = 0;
    for (const s of sequences) {
      this.seqs.push({ start: T, len: s.length });
      T += s.length;
    }
    this.tokens = T;
    this.x = new Float32Array(T * D);
    this.positions = new Int32Array(T);
    let t = 0;
    for (const s of sequences) {
      s.forEach((id, p) => {
        this.x.set(embedIn.subarray(id * D, (id + 1) * D), t * D);
        this.positions[t++] = p;
      });
    }
    const tables = config.rotaryDims > 0 ? rotaryTables(config) : { cos: new Float32Array(0), sin: new Float32Array(0) };
    this.cos = tables.cos;
    this.sin = tables.sin;
  }

  /** Runs one layer (advancing the residual stream) and returns the Gram matrices of its linear inputs. */
  /**
   * `quantize(role, gram)`: called as soon as a linear layer's input statistics are known; returns
   * the weight [N, K] the pass should continue with -- the quantized one, so that later layers are
   * calibrated on the inputs the quantized model will really produce ("true sequential" GPTQ).
   */
  layer(w: LayerWeights, quantize?: (role: keyof LayerGrams, gram: Float64Array) => Float32Array): LayerGrams {
    const { hiddenSize: D, intermediateSize: F } = this.c;
    const T = this.tokens;
    const q = (role: keyof LayerGrams, g: Float64Array) => (quantize ? quantize(role, g) : w[role].weight);
    const ln1 = layerNorm(this.x, T, D, w.ln1.weight, w.ln1.bias, this.c.layerNormEps);
    const gQkv = gram(ln1, T, D);
    const qkv = linear(ln1, T, D, q('qkv', gQkv), w.qkv.bias, 3 * D);
    const ctx = this.attention(qkv);
    const gDense = gram(ctx, T, D);
    const attn = linear(ctx, T, D, q('dense', gDense), w.dense.bias, D);
    let mlpIn = this.x;
    if (!this.c.parallelResidual) {
      mlpIn = new Float32Array(this.x);
      for (let i = 0; i < mlpIn.length; i++) mlpIn[i] += attn[i];
    }
    const ln2 = layerNorm(mlpIn, T, D, w.ln2.weight, w.ln2.bias, this.c.layerNormEps);
    const gUp = gram(ln2, T, D);
    const act = linear(ln2, T, D, q('up', gUp), w.up.bias, F);
    gelu(act, this.c.activation === 'gelu_fast');
    const gDown = gram(act, T, F);
    const mlp = linear(act, T, F, q('down', gDown), w.down.bias, D);
    const x = this.c.parallelResidual ? this.x : mlpIn;
    const next = new Float32Array(T * D);
    for (let i = 0; i < next.length; i++) next[i] = x[i] + mlp[i] + (this.c.parallelResidual ? attn[i] : 0);
    this.x = next;
    return { qkv: gQkv, dense: gDense, up: gUp, down: gDown };
  }

  /** Final hidden states after `final_layer_norm` (tests compare logits with the graph). */
  finalHidden(weight: Float32Array, bias: Float32Array): Float32Array {
    return layerNorm(this.x, this.tokens, this.c.hiddenSize, weight, bias, this.c.layerNormEps);
  }

  /** qkv [T, 3D] interleaved per head [q | k | v] -> attention context [T, D] (heads concatenated). */
  private attention(qkv: Float32Array): Float32Array {
    const { hiddenSize: D, numHeads: H, headSize: hs, rotaryDims: R } = this.c;
    const T = this.tokens;
    const half = R / 2;
    // Rotate q and k in place.
    for (let t = 0; t < T; t++) {
      const p = this.positions[t];
      for (let h = 0; h < H; h++) {
        for (const part of [0, 1]) {
          const off = t * 3 * D + h * 3 * hs + part * hs;
          for (let i = 0; i < half; i++) {
            const a = qkv[off + i];
            const b = qkv[off + half + i];
            // rot*cos + concat(x2, x1)*sin_folded (sin_folded = [-sin, sin])
            qkv[off + i] = a * this.cos[p * R + i] + b * this.sin[p * R + i];
            qkv[off + half + i] = b * this.cos[p * R + half + i] + a * this.sin[p * R + half + i];
          }
        }
      }
    }
    const ctx = new Float32Array(T * D);
    const scale = 1 / Math.sqrt(hs);
    let scores = new Float64Array(0);
    for (const { start, len } of this.seqs) {
      if (scores.length < len) scores = new Float64Array(len);
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < len; i++) {
          const qOff = (start + i) * 3 * D + h * 3 * hs;
          let max = -Infinity;
          for (let j = 0; j <= i; j++) {
            const kOff = (start + j) * 3 * D + h * 3 * hs + hs;
            let s = 0;
            for (let d = 0; d < hs; d++) s += qkv[qOff + d] * qkv[kOff + d];
            s *= scale;
            scores[j] = s;
            if (s > max) max = s;
          }
          let sum = 0;
          for (let j = 0; j <= i; j++) {
            scores[j] = Math.exp(scores[j] - max);
            sum += scores[j];
          }
          const out = (start + i) * D + h * hs;
          for (let j = 0; j <= i; j++) {
            const p = scores[j] / sum;
            const vOff = (start + j) * 3 * D + h * 3 * hs + 2 * hs;
            for (let d = 0; d < hs; d++) ctx[out + d] += p * qkv[vOff + d];
          }
        }
      }
    }
    return ctx;
  }
}

function layerNorm(x: Float32Array, T: number, D: number, w: Float32Array, b: Float32Array, eps: number): Float32Array {
  const y = new Float32Array(T * D);
  for (let t = 0; t < T; t++) {
    const o = t * D;
    let mean = 0;
    for (let d = 0; d < D; d++) mean += x[o + d];
    mean /= D;
    let v = 0;
    for (let d = 0; d < D; d++) v += (x[o + d] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / D + eps);
    for (let d = 0; d < D; d++) y[o + d] = (x[o + d] - mean) * inv * w[d] + b[d];
  }
  return y;
}

/** x [T, K] @ W^T + b with W in torch layout [N, K] -> [T, N]. Four rows of x per pass over W. */
export function linear(x: Float32Array, T: number, K: number, w: Float32Array, b: Float32Array | null, N: number): Float32Array {
  const y = new Float32Array(T * N);
  let t = 0;
  for (; t + 4 <= T; t += 4) {
    const x0 = t * K, x1 = x0 + K, x2 = x1 + K, x3 = x2 + K;
    for (let n = 0; n < N; n++) {
      const wo = n * K;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = 0; k < K; k++) {
        const wk = w[wo + k];
        s0 += x[x0 + k] * wk;
        s1 += x[x1 + k] * wk;
        s2 += x[x2 + k] * wk;
        s3 += x[x3 + k] * wk;
      }
      const bn = b ? b[n] : 0;
      y[t * N + n] = s0 + bn;
      y[(t + 1) * N + n] = s1 + bn;
      y[(t + 2) * N + n] = s2 + bn;
      y[(t + 3) * N + n] = s3 + bn;
    }
  }
  for (; t < T; t++) {
    const xo = t * K;
    for (let n = 0; n < N; n++) {
      const wo = n * K;
      let s = 0;
      for (let k = 0; k < K; k++) s += x[xo + k] * w[wo + k];
      y[t * N + n] = s + (b ? b[n] : 0);
    }
  }
  return y;
}

/** X^T X of x [T, K], symmetric K x K. Upper triangle accumulated four rows of x at a time, then mirrored. */
function gram(x: Float32Array, T: number, K: number): Float64Array {
  const g = new Float64Array(K * K);
  let t = 0;
  for (; t + 4 <= T; t += 4) {
    const o0 = t * K, o1 = o0 + K, o2 = o1 + K, o3 = o2 + K;
    for (let i = 0; i < K; i++) {
      const a0 = x[o0 + i], a1 = x[o1 + i], a2 = x[o2 + i], a3 = x[o3 + i];
      const row = i * K;
      for (let j = i; j < K; j++) g[row + j] += a0 * x[o0 + j] + a1 * x[o1 + j] + a2 * x[o2 + j] + a3 * x[o3 + j];
    }
  }
  for (; t < T; t++) {
    const o = t * K;
    for (let i = 0; i < K; i++) {
      const xi = x[o + i];
      const row = i * K;
      for (let j = i; j < K; j++) g[row + j] += xi * x[o + j];
    }
  }
  for (let i = 0; i < K; i++) for (let j = 0; j < i; j++) g[i * K + j] = g[j * K + i];
  return g;
}

function gelu(x: Float32Array, tanhApprox: boolean): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    x[i] = tanhApprox ? 0.5 * v * (1 + Math.tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))) : 0.5 * v * (1 + erf(v / Math.SQRT2));
  }
}

/** erf to ~1e-7 absolute (Abramowitz & Stegun 7.1.26 is 1.5e-7): plenty for calibration statistics. */
function erf(x: number): number {
  const s = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}
