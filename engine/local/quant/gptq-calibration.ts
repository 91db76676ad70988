/**
 * Calibrated int4 conversion (GPTQ), orchestrated alongside the graph emission: a float32 JS forward
 * pass over the calibration tokens (calibrate.ts) runs one layer at a time, and each int4 linear
 * layer is quantized against its inputs' X^T X as soon as they are known (gptq.ts); the pass then
 * continues with the quantized weight. Each layer's weights are read from the checkpoint once and
 * handed to the emitter with their quantization.
 */
import type { WeightSource } from '../weights';
import { names } from '../weights';
import type { LinearOptions, LinearRole } from '../onnx/linear-spec';
import { CalibrationForward, type LayerGrams, type LayerWeights } from './calibrate';
import { dequantizeInt4Columns, type Int4Weight } from './int4';
import { gptqInt4Columns } from './gptq';
import { int4Options } from './emit';
import { linearPrecision } from './policy';

/** A linear layer as the calibration pass read it, with its GPTQ quantization when the policy makes it int4. */
export interface CalibratedLinear {
  weight: Float32Array;
  bias: Float32Array;
  int4?: Int4Weight;
}

/** The roles of a transformer block's linear layers and the calibration pass's names for them. */
const BLOCK_LINEARS: [LinearRole, keyof LayerGrams][] = [
  ['attention.qkv', 'qkv'],
  ['attention.dense', 'dense'],
  ['mlp.up', 'up'],
  ['mlp.down', 'down'],
];

export class GptqCalibration {
  private constructor(
    private readonly src: WeightSource,
    private readonly opts: LinearOptions,
    private readonly pass: CalibrationForward,
  ) {}

  /** The calibration of this build, or null when it is not calibrated (not int4, 'rtn' scales, or no calibration tokens). */
  static start(src: WeightSource, opts: LinearOptions, embed: Float32Array): GptqCalibration | null {
    if (opts.quant !== 'int4' || !opts.calibration?.length || (opts.int4Scales ?? 'search') === 'rtn') return null;
    return new GptqCalibration(src, opts, new CalibrationForward(src.config, opts.calibration, embed));
  }

  /** Runs the pass through layer `l`, quantizing as it goes; returns that layer's linears by role. */
  layer(l: number): Map<LinearRole, CalibratedLinear> {
    const w = this.readLayer(l);
    const int4 = new Map<keyof LayerGrams, Int4Weight>();
    this.pass.layer(w, (key, gram) => {
      const { weight } = w[key];
      const role = BLOCK_LINEARS.find(([, k]) => k === key)![0];
      if (linearPrecision(role, this.opts.quant) !== 'int4') return weight;
      const K = Math.round(Math.sqrt(gram.length));
      const q = gptqInt4Columns(weight, weight.length / K, K, gram, int4Options(this.opts));
      int4.set(key, q);
      return dequantizeInt4Columns(q);
    });
    return new Map(BLOCK_LINEARS.map(([role, key]) => [role, { ...w[key], int4: int4.get(key) }]));
  }

  /** Layer `l`'s weights in torch layout ([N, K] per linear). */
  private readLayer(l: number): LayerWeights {
    const { hiddenSize: D, intermediateSize: F } = this.src.config;
    const t = (rest: string) => names.layer(l, rest);
    const tensor = (rest: string, N: number, K?: number) => ({
      weight: this.src.tensor(`${t(rest)}.weight`, K === undefined ? [N] : [N, K]),
      bias: this.src.tensor(`${t(rest)}.bias`, [N]),
    });
    return {
      ln1: tensor('input_layernorm', D),
      ln2: tensor('post_attention_layernorm', D),
      qkv: tensor('attention.query_key_value', 3 * D, D),
      dense: tensor('attention.dense', D, D),
      up: tensor('mlp.dense_h_to_4h', F, D),
      down: tensor('mlp.dense_4h_to_h', D, F),
    };
  }
}
