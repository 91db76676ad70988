/**
 * What a linear layer is (LinearSpec) and how the model's linear layers are built (LinearOptions):
 * shared by the emitter (onnx/linear.ts) and the quantizers and policy it calls (quant/).
 */
import type { Quantization } from '../runner';
import type { Int4Weight } from '../quant/int4';

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
