/**
 * ONNX emission of quantized linear layers (called from onnx/linear.ts, which owns the fp32 case).
 *
 * int8 -> com.microsoft.DynamicQuantizeMatMul: B int8 [K, N] with one scale per output channel,
 *         activations quantized to uint8 on the fly. Chosen by measurement on this CPU
 *         (onnxruntime-node 1.30, 1 thread): at M=1 it is as fast as MatMulNBits bits=8 (K=4096,
 *         N=4096: 0.82 vs 0.67-0.75 ms) and at M=64 (prefill) 5x faster (1.7 vs 8.7-10 ms); and it is
 *         truly per-channel, whereas MatMulNBits caps block_size at 256 (K=768 or 6144 would need
 *         several scales per channel). MatMulInteger + DynamicQuantizeLinear is the same
 *         arithmetic in 4 nodes and was no faster.
 * int4 -> com.microsoft.MatMulNBits bits=4, accuracy_level 4 (int8 activations per block: 3-60x
 *         faster than level 0 on this CPU per docs/onnxruntime-node-notes.md), zero point left at
 *         the default 8 (symmetric), bias fused as input 5.
 *
 * Initializers go straight to the .data file through GraphBuilder, so a quantized tensor is never
 * held beyond the layer being converted.
 */
import type { GraphBuilder } from '../onnx/graph';
import type { LinearOptions, LinearSpec } from '../onnx/linear';
import { DataType } from '../onnx/onnx-proto';
import { quantizeInt8 } from './int8';
import { activeInt4Pool } from './pool';
import { COARSE_CLIP_GRID, quantizeInt4, quantizeInt4Columns, type Int4Options, type Int4Weight } from './int4';

export function emitInt8Linear(g: GraphBuilder, x: string, spec: LinearSpec): string {
  const q = quantizeInt8(spec.weight, spec.K, spec.N);
  const b = g.initializer(`${spec.name}.weight_q8`, q.data, [spec.K, spec.N], DataType.INT8);
  const s = g.initializer(`${spec.name}.weight_scale`, q.scales, [spec.N], DataType.FLOAT);
  const zp = g.initializer(`${spec.name}.weight_zp`, new Int8Array(spec.N), [spec.N], DataType.INT8);
  const inputs = [x, b, s, zp];
  if (spec.bias) inputs.push(g.initializer(`${spec.name}.bias`, spec.bias, [spec.N], DataType.FLOAT));
  return g.op('DynamicQuantizeMatMul', inputs, {}, 'com.microsoft');
}

export interface Int4EmitOptions extends Int4Options {
  /**
   * The weight already quantized (e.g. by worker threads); when given, spec.weight is not read.
   */
  prequantized?: Int4Weight;
}

/** The int4 quantizer settings for the model-level options. */
export function int4Options(opts: LinearOptions): Int4EmitOptions {
  const blockSize = opts.blockSize ?? 32;
  switch (opts.int4Scales ?? 'search') {
    case 'rtn':
      return { blockSize, method: 'rtn' };
    case 'search-coarse':
      return { blockSize, method: 'search', clipGrid: COARSE_CLIP_GRID };
    default:
      return { blockSize, method: 'search' };
  }
}

export function emitInt4Linear(g: GraphBuilder, x: string, spec: LinearSpec, opts: Int4EmitOptions = {}): string {
  const pool = activeInt4Pool();
  const q =
    opts.prequantized ??
    (spec.layout === 'NK'
      ? pool
        ? pool.quantizeColumns(spec.weight, spec.N, spec.K, opts)
        : quantizeInt4Columns(spec.weight, spec.N, spec.K, opts)
      : quantizeInt4(spec.weight, spec.K, spec.N, opts));
  return emitMatMulNBits(g, x, spec.name, q, spec.bias ?? null);
}

/**
 * accuracyLevel 0 computes in fp32 (exact up to float rounding; tests use it to check the layout),
 * 4 is what models use.
 */
export function emitMatMulNBits(g: GraphBuilder, x: string, name: string, q: Int4Weight, bias: Float32Array | null, accuracyLevel = 4): string {
  const b = g.initializer(`${name}.weight_q4`, q.data, [q.N, q.nBlocks, q.blockSize / 2], DataType.UINT8);
  const s = g.initializer(`${name}.weight_scale`, q.scales, [q.N * q.nBlocks], DataType.FLOAT);
  const inputs = [x, b, s];
  if (bias) inputs.push('', '', g.initializer(`${name}.bias`, bias, [q.N], DataType.FLOAT));
  return g.op('MatMulNBits', inputs, { K: q.K, N: q.N, bits: 4, block_size: q.blockSize, accuracy_level: accuracyLevel }, 'com.microsoft');
}
