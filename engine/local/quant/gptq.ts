/**
 * GPTQ (Frantar et al. 2022) for the int4 MatMulNBits layout: quantize the K input columns of
 * W [N, K] one at a time and spread each column's rounding error over the not yet quantized
 * columns, weighted by the inverse of H = X^T X (the Gram matrix of the layer's calibration
 * inputs, quant/calibrate.ts), so that the layer's OUTPUT error ||X W^T - X Q^T|| is minimised
 * rather than the weight error. Each block's scale is chosen when the column loop enters the block,
 * from the already error-updated weights, by the same clipping-ratio search as int4.ts.
 *
 * Standard details kept: dampening of H by 1% of its mean diagonal, inputs that are never
 * non-zero (H_kk = 0) get their weights zeroed, and the update uses the upper Cholesky factor of
 * H^-1. No activation reordering (it would interleave the blocks' scales).
 * Cost: N x K^2 / 2 multiply-adds per layer, plus a K^3 Cholesky.
 */
import { checkBlockSize, DEFAULT_CLIP_GRID, searchScale, type Int4Options, type Int4Weight } from './int4';

export function gptqInt4Columns(wtIn: Float32Array, N: number, K: number, hIn: Float64Array, opts: Int4Options & { actOrder?: boolean } = {}): Int4Weight {
  const blockSize = opts.blockSize ?? 32;
  checkBlockSize(blockSize);
  const grid = opts.clipGrid ?? DEFAULT_CLIP_GRID;
  if (wtIn.length !== N * K || hIn.length !== K * K) throw new Error(`gptq: weight ${wtIn.length} / H ${hIn.length} do not fit ${N}x${K}`);
  const w = new Float64Array(wtIn);
  const h = new Float64Array(hIn);
  let meanDiag = 0;
  for (let k = 0; k < K; k++) meanDiag += h[k * K + k];
  meanDiag /= K;
  for (let k = 0; k < K; k++) {
    if (h[k * K + k] === 0) {
      h[k * K + k] = 1;
      for (let n = 0; n < N; n++) w[n * K + k] = 0;
    }
    h[k * K + k] += 0.01 * (meanDiag || 1);
  }
  const nBlocks = Math.ceil(K / blockSize);
  const half = blockSize / 2;
  const data = new Uint8Array(N * nBlocks * half).fill(0x88);
  const scales = new Float32Array(N * nBlocks);
  const codes = new Int8Array(N * K);
  const actOrder = opts.actOrder ?? false;
  // Column order: by decreasing H_kk (activation energy), so the inputs that matter most are
  // quantized first while the most columns are left to absorb their error ("act-order"). The
  // blocks' scales are then fixed up front from the original weights ("static groups"), as a
  // block's columns are no longer visited together.
  const perm = Array.from({ length: K }, (_, k) => k);
  if (actOrder) {
    perm.sort((a, b) => h[b * K + b] - h[a * K + a]);
    for (let n = 0; n < N; n++) {
      for (let b = 0; b < nBlocks; b++) {
        const len = Math.min(blockSize, K - b * blockSize);
        scales[n * nBlocks + b] = searchScale(wtIn, n * K + b * blockSize, len, grid);
      }
    }
  }
  const hp = new Float64Array(K * K);
  const wp = new Float64Array(N * K);
  for (let i = 0; i < K; i++) {
    for (let j = 0; j < K; j++) hp[i * K + j] = h[perm[i] * K + perm[j]];
    for (let n = 0; n < N; n++) wp[n * K + i] = w[n * K + perm[i]];
  }
  const u = upperCholeskyOfInverse(hp, K);
  const seg = new Float32Array(blockSize);
  for (let k = 0; k < K; k++) {
    const orig = perm[k];
    const b = Math.floor(orig / blockSize);
    if (!actOrder && k % blockSize === 0) {
      const len = Math.min(blockSize, K - k);
      for (let n = 0; n < N; n++) {
        for (let i = 0; i < len; i++) seg[i] = wp[n * K + k + i];
        scales[n * nBlocks + b] = searchScale(seg, 0, len, grid);
      }
    }
    const d = u[k * K + k];
    for (let n = 0; n < N; n++) {
      const s = scales[n * nBlocks + b];
      const v = wp[n * K + k];
      let q = 0;
      if (s !== 0) q = Math.max(-8, Math.min(7, Math.round(v / s)));
      codes[n * K + orig] = q;
      const err = (v - q * s) / d;
      if (err === 0) continue;
      const row = n * K;
      for (let j = k + 1; j < K; j++) wp[row + j] -= err * u[k * K + j];
    }
  }
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const blk = n * nBlocks + Math.floor(k / blockSize);
      const i = k % blockSize;
      const byteIdx = blk * half + (i >> 1);
      const code = codes[n * K + k] + 8;
      data[byteIdx] = i & 1 ? (data[byteIdx] & 0x0f) | (code << 4) : (data[byteIdx] & 0xf0) | code;
    }
  }
  return { K, N, blockSize, nBlocks, data, scales };
}

/** U upper triangular with H^-1 = U^T U, for H symmetric positive definite [K, K]. */
function upperCholeskyOfInverse(h: Float64Array, K: number): Float64Array {
  // H = L L^T; H^-1 = L^-T L^-1; its upper Cholesky factor is obtained as chol(H^-1) directly.
  const l = cholesky(h, K);
  // inv(L) (lower triangular)
  const li = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    li[i * K + i] = 1 / l[i * K + i];
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let m = j; m < i; m++) s += l[i * K + m] * li[m * K + j];
      li[i * K + j] = -s / l[i * K + i];
    }
  }
  // Hinv = Li^T Li
  const hinv = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    for (let j = i; j < K; j++) {
      let s = 0;
      for (let m = j; m < K; m++) s += li[m * K + i] * li[m * K + j];
      hinv[i * K + j] = s;
      hinv[j * K + i] = s;
    }
  }
  // upper factor: Hinv = U^T U, U = chol(Hinv)^T
  const lh = cholesky(hinv, K);
  const u = new Float64Array(K * K);
  for (let i = 0; i < K; i++) for (let j = 0; j <= i; j++) u[j * K + i] = lh[i * K + j];
  return u;
}

/** Lower Cholesky factor L of symmetric positive definite A [K, K]. */
function cholesky(a: Float64Array, K: number): Float64Array {
  const l = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * K + j];
      for (let m = 0; m < j; m++) s -= l[i * K + m] * l[j * K + m];
      if (i === j) {
        if (!(s > 0)) throw new Error('gptq: calibration Gram matrix is not positive definite');
        l[i * K + i] = Math.sqrt(s);
      } else l[i * K + j] = s / l[j * K + j];
    }
  }
  return l;
}
