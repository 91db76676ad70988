/**
 * Rotary position embedding tables, shared by the ONNX graph (as initializers of its RotaryEmbedding
 * nodes) and the JS calibration forward pass (quant/calibrate.ts), which must rotate as the graph does.
 */
import type { NeoxConfig } from '../config';

/**
 * cos and sin of every position's angles [maxPos, R/2], computed as transformers does (float32
 * inv_freq and angles): the cos_cache and sin_cache of com.microsoft.RotaryEmbedding.
 */
export function rotaryCaches(c: NeoxConfig): { cos: Float32Array; sin: Float32Array } {
  const half = c.rotaryDims / 2;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = 1 / Math.fround(Math.pow(c.rotaryBase, Math.fround((2 * i) / c.rotaryDims)));
  const cos = new Float32Array(c.maxPositions * half);
  const sin = new Float32Array(c.maxPositions * half);
  for (let p = 0; p < c.maxPositions; p++) {
    for (let i = 0; i < half; i++) {
      const a = Math.fround(p * invFreq[i]);
      cos[p * half + i] = Math.cos(a);
      sin[p * half + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}

/** The same as full-width tables [maxPos, R], sin sign-folded: x * cos + concat(x2, x1) * sin rotates x. */
export function rotaryTables(c: NeoxConfig): { cos: Float32Array; sin: Float32Array } {
  const R = c.rotaryDims;
  const half = R / 2;
  const caches = rotaryCaches(c);
  const cos = new Float32Array(c.maxPositions * R);
  const sin = new Float32Array(c.maxPositions * R);
  for (let p = 0; p < c.maxPositions; p++) {
    for (let i = 0; i < half; i++) {
      const co = caches.cos[p * half + i];
      const si = caches.sin[p * half + i];
      cos[p * R + i] = co;
      cos[p * R + half + i] = co;
      // rotate_half(x) * sin == concat(x2, x1) * concat(-sin, sin)
      sin[p * R + i] = -si;
      sin[p * R + half + i] = si;
    }
  }
  return { cos, sin };
}
