/**
 * Tiled transpose of a row-major [rows, cols] float32 matrix into [cols, rows].
 *
 * Linear weights reach the quantizers as W[K, N] (x @ W), but MatMulNBits and the
 * per-channel scales want one contiguous run of K values per output column n. A naive
 * column gather strides N*4 bytes per element; 64x64 tiles keep both sides in cache,
 * which matters for the 20B-shaped benchmark (151M-element FFN tensors).
 */
export function transpose(src: Float32Array, rows: number, cols: number, out?: Float32Array): Float32Array {
  if (src.length !== rows * cols) throw new Error(`transpose: ${src.length} elements is not ${rows}x${cols}`);
  const dst = out ?? new Float32Array(rows * cols);
  const T = 64;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(rows, r0 + T);
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(cols, c0 + T);
      for (let r = r0; r < r1; r++) {
        const rowOff = r * cols;
        for (let c = c0; c < c1; c++) dst[c * rows + r] = src[rowOff + c];
      }
    }
  }
  return dst;
}
