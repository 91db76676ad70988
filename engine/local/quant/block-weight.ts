/** A weight W[K, N] quantized in blocks of K, laid out as com.microsoft.MatMulNBits reads it. */
export interface BlockQuantWeight {
  /** Input features (rows of W[K, N]). */
  K: number;
  /** Output features (columns of W). */
  N: number;
  blockSize: number;
  nBlocks: number;
  /** [N, nBlocks, blockSize * bits / 8]: one row of blocks per output column n. */
  data: Uint8Array;
  /** [N * nBlocks] */
  scales: Float32Array;
}
