/**
 * Every linear layer of the model (y = x @ W + b) is emitted here, so the weight format
 * (fp32 MatMul; int8 and int4 MatMulNBits, keyed by the quant option) is decided in one place.
 */
import { NeoxError } from '../../types';
import type { Quantization } from '../runner';
import type { GraphBuilder } from './graph';
import { linearPrecision } from '../quant/policy';
import type { Int4Weight } from '../quant/int4';
import { emitInt8Linear, emitInt4Linear, int4Options } from '../quant/emit';

/** Which layer a weight belongs to, so a quantizer can keep some (e.g. the output head) in higher precision. */
export type LinearRole = 'attention.qkv' | 'attention.dense' | 'mlp.up' | 'mlp.down' | 'head';

export interface LinearSpec {
  /** Initializer name prefix, e.g. "layers.3.attention.dense". */
  name: string;
  role: LinearRole;
  /** float32 weight laid out [K, N] (input features x output features), row-major; see `layout`. */
  weight: Float32Array;
  /**
   * 'NK': `weight` is in torch Linear layout [N, K] (out x in). int4 quantizes rows of exactly that
   * layout, so passing it as is saves two transposes per tensor (the 20B benchmark converts 20e9
   * weights); other precisions transpose here. Default 'KN'.
   */
  layout?: 'KN' | 'NK';
  K: number;
  N: number;
  /** [N] or absent. */
  bias?: Float32Array | null;
  /** The int4 weight already quantized (calibrated builds quantize during the calibration pass). */
  int4?: Int4Weight;
}

export interface LinearOptions {
  quant: Quantization;
  /** int4 block size. */
  blockSize?: number;
  /** int4 scale choice (LoadOptions.int4Scales). */
  int4Scales?: 'search' | 'search-coarse' | 'rtn';
  /**
   * Token sequences of calibration text. When given (and the scales are not 'rtn'), int4 layers
   * are quantized with GPTQ against these inputs' statistics instead of weight error alone.
   */
  calibration?: number[][];
}

/** Emits x[..., K] @ W[K, N] (+ b) and returns the output value name ([..., N]). */
export function emitLinear(g: GraphBuilder, x: string, spec: LinearSpec, opts: LinearOptions): string {
  if (spec.weight.length !== spec.K * spec.N) throw new Error(`internal: ${spec.name} weight has ${spec.weight.length} elements, expected ${spec.K}x${spec.N}`);
  // Which layers stay in higher precision under int8/int4 is decided (and explained) in quant/policy.ts.
  switch (linearPrecision(spec.role, opts.quant)) {
    case 'int4':
      return emitInt4Linear(g, x, spec, { ...int4Options(opts), prequantized: spec.int4 });
    case 'int8':
      return emitInt8Linear(g, x, spec);
    case 'fp32': {
      spec = asKN(spec);
      const w = g.initializer(`${spec.name}.weight`, spec.weight, [spec.K, spec.N]);
      const y = g.op('MatMul', [x, w]);
      if (!spec.bias) return y;
      const b = g.initializer(`${spec.name}.bias`, spec.bias, [spec.N]);
      return g.op('Add', [y, b]);
    }
    default:
      throw new NeoxError(`quant "${opts.quant}" is not supported (use fp32, int8 or int4)`, 'quant_unsupported');
  }
}

/** Torch Linear weights are [N, K] (out x in); the graph wants [K, N]. Blocked for cache locality. */
export function transposeToKN(w: Float32Array, N: number, K: number): Float32Array {
  const out = new Float32Array(w.length);
  const B = 64;
  for (let n0 = 0; n0 < N; n0 += B) {
    const n1 = Math.min(n0 + B, N);
    for (let k0 = 0; k0 < K; k0 += B) {
      const k1 = Math.min(k0 + B, K);
      for (let n = n0; n < n1; n++) {
        const row = n * K;
        for (let k = k0; k < k1; k++) out[k * N + n] = w[row + k];
      }
    }
  }
  return out;
}

function asKN(spec: LinearSpec): LinearSpec {
  return spec.layout === 'NK' ? { ...spec, weight: transposeToKN(spec.weight, spec.N, spec.K), layout: 'KN' } : spec;
}
