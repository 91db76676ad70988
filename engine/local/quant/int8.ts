/**
 * Symmetric int8 quantization, one scale per output channel (column n of W[K, N]):
 * scale[n] = max_k |W[k, n]| / 127, code = round(W / scale) in [-127, 127].
 *
 * At 8 bits plain absmax rounding is already within ~0.01% perplexity of fp32 on the default
 * model, so no scale search here. The codes are emitted in the two layouts onnxruntime's int8
 * kernels take: [K, N] int8 (DynamicQuantizeMatMul / MatMulInteger) and the MatMulNBits bits=8
 * layout [N, nBlocks, blockSize] uint8 with zero point 128.
 */
import { transpose } from './transpose';

export interface Int8Weight {
  K: number;
  N: number;
  /** [K, N] row-major, same orientation as the float weight. */
  data: Int8Array;
  /** [N] */
  scales: Float32Array;
}

export function quantizeInt8(w: Float32Array, K: number, N: number): Int8Weight {
  if (w.length !== K * N) throw new Error(`quantizeInt8: ${w.length} elements is not ${K}x${N}`);
  const amax = new Float32Array(N);
  for (let k = 0; k < K; k++) {
    const off = k * N;
    for (let n = 0; n < N; n++) {
      const a = Math.abs(w[off + n]);
      if (a > amax[n]) amax[n] = a;
    }
  }
  const scales = new Float32Array(N);
  const inv = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    scales[n] = amax[n] / 127;
    inv[n] = amax[n] === 0 ? 0 : 127 / amax[n];
  }
  const data = new Int8Array(K * N);
  for (let k = 0; k < K; k++) {
    const off = k * N;
    for (let n = 0; n < N; n++) {
      const q = Math.round(w[off + n] * inv[n]);
      data[off + n] = q > 127 ? 127 : q < -127 ? -127 : q;
    }
  }
  return { K, N, data, scales };
}

export function dequantizeInt8(q: Int8Weight): Float32Array {
  const { K, N, data, scales } = q;
  const w = new Float32Array(K * N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) w[k * N + n] = data[k * N + n] * scales[n];
  return w;
}

/**
 * The same per-channel codes in MatMulNBits bits=8 layout: [N, nBlocks, blockSize] uint8,
 * code + 128 (the kernel's default zero point), with the channel's scale repeated per block.
 */
export function int8ToNBits(q: Int8Weight, blockSize: number): { data: Uint8Array; scales: Float32Array; nBlocks: number } {
  const { K, N } = q;
  const nBlocks = Math.ceil(K / blockSize);
  const data = new Uint8Array(N * nBlocks * blockSize).fill(128);
  const t = transpose(new Float32Array(q.data), K, N);
  for (let n = 0; n < N; n++) {
    const dst = n * nBlocks * blockSize;
    for (let k = 0; k < K; k++) data[dst + k] = t[n * K + k] + 128;
  }
  const scales = new Float32Array(N * nBlocks);
  for (let n = 0; n < N; n++) scales.fill(q.scales[n], n * nBlocks, (n + 1) * nBlocks);
  return { data, scales, nBlocks };
}
