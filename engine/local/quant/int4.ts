/**
 * Symmetric 4-bit block quantization in the layout of com.microsoft.MatMulNBits (bits=4).
 *
 * Layout (checked against onnxruntime's CPU kernel, see test/engine/quant-layout.test.ts):
 *   B       uint8  [N, nBlocks, blockSize/2]  one row per output column n of W[K, N];
 *                  element k of a block lives in byte k>>1, even k in the low nibble.
 *   scales  float32 [N * nBlocks]
 *   zero point: the kernel's default 8 for 4 bits, so W[k, n] = (code - 8) * scale.
 * K need not be a multiple of blockSize: the tail of the last block is padded with code 8 (= 0).
 *
 * Two ways to choose a block's scale:
 *   'rtn'    plain absmax round-to-nearest, scale = max|w| / 7 (the baseline),
 *   'search' try a grid of clipping ratios, for both "max|w| -> +7" and "the signed extreme -> -8"
 *            (a negative scale is legal and uses the otherwise wasted code -8), and for each
 *            candidate's codes take the least-squares optimal scale sum(w q) / sum(q^2); keep the
 *            candidate with the smallest reconstruction error sum((w - s q)^2), then polish once.
 *            The error for fixed codes and LSQ scale is sum(w^2) - (sum wq)^2 / sum q^2, so each
 *            candidate costs one pass over the block.
 */
import type { BlockQuantWeight } from './block-weight';
import { transpose } from './transpose';

export type ScaleMethod = 'rtn' | 'search';

export interface Int4Options {
  /** Elements of K sharing one scale; a power of two >= 16 (MatMulNBits). Default 32. */
  blockSize?: number;
  /** Default 'search'. */
  method?: ScaleMethod;
  /** Clipping ratios tried by 'search' (default DEFAULT_CLIP_GRID). Coarser = faster conversion. */
  clipGrid?: readonly number[];
}

/** 4-bit codes, two per byte (even k in the low nibble), zero point 8. */
export type Int4Weight = BlockQuantWeight;

/** 1.0 down to 0.55: fine enough that a finer grid no longer lowers the error on the default model. */
export const DEFAULT_CLIP_GRID: readonly number[] = Array.from({ length: 19 }, (_, i) => 1 - i * 0.025);
/**
 * For very large models (the 20B-shaped benchmark), where conversion time matters: 2 candidates +
 * polish = 3 passes instead of 39. Measured relative squared error at block 128 (real qkv weights
 * of neox-code-23m / gaussian): rtn 0.0131 / 0.0138, this 0.0092 / 0.0096, full grid 0.0089 / 0.0093.
 */
export const COARSE_CLIP_GRID: readonly number[] = [0.9];

export function checkBlockSize(blockSize: number): void {
  if (!Number.isInteger(blockSize) || blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) {
    throw new Error(`int4 block size must be a power of two >= 16 (got ${blockSize})`);
  }
}

/** Quantize W given row-major as [K, N] (the x @ W orientation). */
export function quantizeInt4(w: Float32Array, K: number, N: number, opts: Int4Options = {}): Int4Weight {
  return quantizeInt4Columns(transpose(w, K, N), N, K, opts);
}

/**
 * Quantize W given as its transpose Wt [N, K] (Hugging Face nn.Linear's own [out, in] layout):
 * each row is one output column's K weights, contiguous.
 */
export function quantizeInt4Columns(wt: Float32Array, N: number, K: number, opts: Int4Options = {}): Int4Weight {
  const blockSize = opts.blockSize ?? 32;
  checkBlockSize(blockSize);
  if (wt.length !== N * K) throw new Error(`quantizeInt4: ${wt.length} elements is not ${N}x${K}`);
  const nBlocks = Math.ceil(K / blockSize);
  const data = new Uint8Array(N * nBlocks * (blockSize / 2));
  const scales = new Float32Array(N * nBlocks);
  quantizeInt4Rows(wt, K, 0, N, opts, data, scales);
  return { K, N, blockSize, nBlocks, data, scales };
}

/**
 * Quantize rows [n0, n1) of Wt [N, K] into the matching slices of `data` / `scales` (sized for all
 * N rows). The unit of work the parallel quantizer (quant/pool.ts) hands to each thread.
 */
export function quantizeInt4Rows(wt: Float32Array, K: number, n0: number, n1: number, opts: Int4Options, data: Uint8Array, scales: Float32Array): void {
  const blockSize = opts.blockSize ?? 32;
  const method = opts.method ?? 'search';
  const grid = opts.clipGrid ?? DEFAULT_CLIP_GRID;
  const nBlocks = Math.ceil(K / blockSize);
  const half = blockSize / 2;
  data.fill(0x88, n0 * nBlocks * half, n1 * nBlocks * half); // code 8 (= 0) for padding and zero blocks
  for (let n = n0; n < n1; n++) {
    const rowOff = n * K;
    for (let b = 0; b < nBlocks; b++) {
      const start = rowOff + b * blockSize;
      const len = Math.min(blockSize, K - b * blockSize);
      const scale = method === 'rtn' ? rtnScale(wt, start, len) : searchScale(wt, start, len, grid);
      const blk = n * nBlocks + b;
      scales[blk] = scale;
      packBlock(wt, start, len, scale, data, blk * half);
    }
  }
}

function rtnScale(x: Float32Array, start: number, len: number): number {
  let amax = 0;
  for (let i = start; i < start + len; i++) {
    const a = Math.abs(x[i]);
    if (a > amax) amax = a;
  }
  return amax / 7;
}

/**
 * Score of the codes q = clamp(round(w / s), -8, 7): (sum w q)^2 / sum q^2, i.e. the error
 * reduction they achieve with their LSQ scale. Writes sum(w q) / sum(q^2) (that scale) to lsq[0].
 * Hot loop of the conversion (20B weights pass through it several times): no allocation, and
 * rounding as truncation of the shifted, clamped value (floor(t + 8.5) - 8 == Math.round(t) for
 * t in [-8.5, 7.5), and ~3x faster than Math.round in V8).
 */
function scoreScale(x: Float32Array, start: number, end: number, s: number, lsq: Float64Array): number {
  const inv = 1 / s;
  let sxq = 0;
  let sqq = 0;
  for (let i = start; i < end; i++) {
    const v = x[i];
    let t = v * inv + 8.5;
    t = t > 15 ? 15 : t < 0 ? 0 : t;
    const q = (t | 0) - 8;
    sxq += v * q;
    sqq += q * q;
  }
  if (sqq === 0) return -1;
  lsq[0] = sxq / sqq;
  return (sxq * sxq) / sqq;
}

const lsqScratch = new Float64Array(1);

/** The clipping-ratio search for one block (also used per block by quant/gptq.ts). */
export function searchScale(x: Float32Array, start: number, len: number, grid: readonly number[]): number {
  const end = start + len;
  let amax = 0;
  let extreme = 0;
  for (let i = start; i < end; i++) {
    const a = Math.abs(x[i]);
    if (a > amax) {
      amax = a;
      extreme = x[i];
    }
  }
  if (amax === 0) return 0;
  // Maximising (sum wq)^2 / sum q^2 minimises the error once the scale is the LSQ one.
  let bestScore = -1;
  let bestScale = amax / 7;
  for (let g = 0; g < grid.length; g++) {
    const r = grid[g];
    let score = scoreScale(x, start, end, (r * amax) / 7, lsqScratch);
    if (score > bestScore) {
      bestScore = score;
      bestScale = lsqScratch[0];
    }
    score = scoreScale(x, start, end, (r * extreme) / -8, lsqScratch);
    if (score > bestScore) {
      bestScore = score;
      bestScale = lsqScratch[0];
    }
  }
  // Polish: re-derive the codes with the winning LSQ scale (can only move codes closer).
  const score = scoreScale(x, start, end, bestScale, lsqScratch);
  if (score > bestScore) bestScale = lsqScratch[0];
  return bestScale;
}

function packBlock(x: Float32Array, start: number, len: number, scale: number, out: Uint8Array, outOff: number): void {
  if (scale === 0) return; // already filled with code 8 (= 0)
  const inv = 1 / scale;
  for (let i = 0; i < len; i += 2) {
    // code = clamp(round(w / scale), -8, 7) + 8, rounded as in scoreScale
    let t0 = x[start + i] * inv + 8.5;
    t0 = t0 > 15 ? 15 : t0 < 0 ? 0 : t0;
    let t1 = i + 1 < len ? x[start + i + 1] * inv + 8.5 : 8;
    t1 = t1 > 15 ? 15 : t1 < 0 ? 0 : t1;
    out[outOff + (i >> 1)] = (t0 | 0) | ((t1 | 0) << 4);
  }
}

/** Reconstruct W as row-major [K, N] float32 (tests and reference matmuls). */
export function dequantizeInt4(q: Int4Weight): Float32Array {
  const { K, N, blockSize, nBlocks, data, scales } = q;
  const half = blockSize / 2;
  const w = new Float32Array(K * N);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < nBlocks; b++) {
      const s = scales[n * nBlocks + b];
      const off = (n * nBlocks + b) * half;
      for (let i = 0; i < blockSize; i++) {
        const k = b * blockSize + i;
        if (k >= K) break;
        const byte = data[off + (i >> 1)];
        const code = i & 1 ? byte >> 4 : byte & 15;
        w[k * N + n] = (code - 8) * s;
      }
    }
  }
  return w;
}

/** Reconstruct W in the quantizer's own [N, K] layout (Wt, torch Linear layout). */
export function dequantizeInt4Columns(q: Int4Weight): Float32Array {
  const { K, N, blockSize, nBlocks, data, scales } = q;
  const half = blockSize / 2;
  const w = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const blk = n * nBlocks + Math.floor(k / blockSize);
      const i = k % blockSize;
      const byte = data[blk * half + (i >> 1)];
      w[n * K + k] = ((i & 1 ? byte >> 4 : byte & 15) - 8) * scales[blk];
    }
  }
  return w;
}
