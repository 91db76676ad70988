/**
 * Symmetric int8 weights in blocks of INT8_BLOCK along K, in the layout of
 * com.microsoft.MatMulNBits bits=8: [N, nBlocks, blockSize] uint8 holding code + 128 (the kernel's
 * default zero point), one float32 scale per block: scale = max |W| over the block / 127.
 *
 * Why blocks and MatMulNBits rather than per-channel DynamicQuantizeMatMul (see quant/emit.ts):
 * the kernel quantizes activations per row and per block (accuracy_level 4), so a row's result
 * never depends on the other rows computed with it, and its int8 dot products stay within 16 bits
 * on every x86-64 path (DynamicQuantizeMatMul's uint8 x int8 products saturate on AVX2).
 */
import type { BlockQuantWeight } from './block-weight';

/**
 * 64, not llama.cpp's 32: the decode matmul (M = 1) streams fewer scale bytes (6% instead of 12.5%
 * of the weights) and ran about 10% faster on 48 distinct 1024x4096 layers (9.2-10.1 ms against
 * 10.1-13.9 ms, 2 threads). Not 128, though it was faster still: onnxruntime's 8-bit kernel sums a
 * lone row (M = 1) in another order than a batch at block 128, so a token would depend on whether
 * its prompt was cached or batched; at 32 and 64 every row gets the same bits either way.
 */
export const INT8_BLOCK = 64;

/** One code + 128 per byte; the tail of the last block is padded with 128 (= 0). */
export type Int8Weight = BlockQuantWeight;

/**
 * Quantizes W. `layout` 'KN': w is [K, N] row-major; 'NK': w is torch Linear's [N, K], whose rows
 * are exactly the output channels the blocks run along (no transpose needed).
 */
export function quantizeInt8(w: Float32Array, K: number, N: number, layout: 'KN' | 'NK' = 'KN', blockSize = INT8_BLOCK): Int8Weight {
  if (w.length !== K * N) throw new Error(`quantizeInt8: ${w.length} elements is not ${K}x${N}`);
  const nBlocks = Math.ceil(K / blockSize);
  const data = new Uint8Array(N * nBlocks * blockSize).fill(128);
  const scales = new Float32Array(N * nBlocks);
  const at = layout === 'NK' ? (k: number, n: number) => w[n * K + k] : (k: number, n: number) => w[k * N + n];
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < nBlocks; b++) {
      const k0 = b * blockSize;
      const k1 = Math.min(k0 + blockSize, K);
      let amax = 0;
      for (let k = k0; k < k1; k++) amax = Math.max(amax, Math.abs(at(k, n)));
      const scale = amax / 127;
      scales[n * nBlocks + b] = scale;
      if (scale === 0) continue;
      const dst = (n * nBlocks + b) * blockSize - k0;
      for (let k = k0; k < k1; k++) {
        const q = Math.round(at(k, n) / scale);
        data[dst + k] = (q > 127 ? 127 : q < -127 ? -127 : q) + 128;
      }
    }
  }
  return { K, N, blockSize, nBlocks, data, scales };
}

/** W[K, N] as the kernel sees it (for references in tests and for calibration). */
export function dequantizeInt8(q: Int8Weight): Float32Array {
  const { K, N, blockSize, nBlocks, data, scales } = q;
  const w = new Float32Array(K * N);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const b = Math.floor(k / blockSize);
      w[k * N + n] = (data[(n * nBlocks + b) * blockSize + (k % blockSize)] - 128) * scales[n * nBlocks + b];
    }
  }
  return w;
}
