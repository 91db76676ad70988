/**
 * ONNX emission of quantized linear layers (called from onnx/linear.ts, which owns the fp32 case).
 * Both precisions are com.microsoft.MatMulNBits with accuracy_level 4: activations are quantized to
 * int8 per row and per block of K inside the kernel, so
 * - a row's result never depends on the other rows of the batch or on how the prompt was split
 *   (cold, cached prefix and batched requests give the same tokens), and
 * - the int8 products stay within 16-bit lanes on every x86-64 kernel (symmetric int8 activations
 *   times weights of at most 127 in magnitude), so AVX2-only and AVX-512 processors give the same
 *   results. DynamicQuantizeMatMul, used before, quantizes activations per tensor to uint8 and its
 *   AVX2 kernel saturates uint8 x int8 pair sums (255 x 127 x 2 > 32767): measured under an
 *   emulated AVX2 processor (qemu-x86_64 -cpu EPYC-Rome) its error was 8-9% on random layers and
 *   over 100% on a 192 x 50304 head, against 0.7-0.8% for MatMulNBits bits=8 block 32 on either
 *   path. Cost: prefill matmuls (M=64) about 2.5x slower than DynamicQuantizeMatMul, decode (M=1)
 *   the same.
 *
 * int8 -> bits=8, blocks of INT8_BLOCK along K with one scale per block (quant/int8.ts).
 * int4 -> bits=4, zero point left at the default 8 (symmetric), bias fused as input 5.
 *
 * Initializers go straight to the .data file through GraphBuilder, so a quantized tensor is never
 * held beyond the layer being converted.
 */
import type { GraphBuilder } from '../onnx/graph';
import type { LinearOptions, LinearSpec } from '../onnx/linear-spec';
import { DataType } from '../onnx/onnx-proto';
import { quantizeInt8, type Int8Weight } from './int8';
import { activeInt4Pool } from './pool';
import { COARSE_CLIP_GRID, quantizeInt4, quantizeInt4Columns, type Int4Options, type Int4Weight } from './int4';

export function emitInt8Linear(g: GraphBuilder, x: string, spec: LinearSpec): string {
  const q = quantizeInt8(spec.weight, spec.K, spec.N, spec.layout ?? 'KN');
  return emitMatMulNBits(g, x, spec.name, q, spec.bias ?? null, 8);
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
  return emitMatMulNBits(g, x, spec.name, q, spec.bias ?? null, 4);
}

/**
 * accuracyLevel 0 computes in fp32 (exact up to float rounding; tests use it to check the layout),
 * 4 is what models use.
 */
export function emitMatMulNBits(g: GraphBuilder, x: string, name: string, q: Int4Weight | Int8Weight, bias: Float32Array | null, bits: 4 | 8 = 4, accuracyLevel = 4): string {
  const b = g.initializer(`${name}.weight_q${bits}`, q.data, [q.N, q.nBlocks, (q.blockSize * bits) / 8], DataType.UINT8);
  const s = g.initializer(`${name}.weight_scale`, q.scales, [q.N * q.nBlocks], DataType.FLOAT);
  const inputs = [x, b, s];
  if (bias) inputs.push('', '', g.initializer(`${name}.bias`, bias, [q.N], DataType.FLOAT));
  return g.op('MatMulNBits', inputs, { K: q.K, N: q.N, bits, block_size: q.blockSize, accuracy_level: accuracyLevel }, 'com.microsoft');
}
