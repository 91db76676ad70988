/**
 * Rotary position embedding tables, shared by the ONNX graph (as initializers) and the JS calibration
 * forward pass (quant/calibrate.ts), which must rotate exactly as the graph does.
 */
import type { NeoxConfig } from '../config';

/** cos and sign-folded sin tables [maxPos, R], computed as transformers does (float32 inv_freq and angles). */
export function rotaryTables(c: NeoxConfig): { cos: Float32Array; sin: Float32Array } {
  const R = c.rotaryDims;
  const half = R / 2;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = 1 / Math.fround(Math.pow(c.rotaryBase, Math.fround((2 * i) / R)));
  const cos = new Float32Array(c.maxPositions * R);
  const sin = new Float32Array(c.maxPositions * R);
  for (let p = 0; p < c.maxPositions; p++) {
    for (let i = 0; i < half; i++) {
      const a = Math.fround(p * invFreq[i]);
      const co = Math.cos(a);
      const si = Math.sin(a);
      cos[p * R + i] = co;
      cos[p * R + half + i] = co;
      // rotate_half(x) * sin == concat(x2, x1) * concat(-sin, sin)
      sin[p * R + i] = -si;
      sin[p * R + half + i] = si;
    }
  }
  return { cos, sin };
}
