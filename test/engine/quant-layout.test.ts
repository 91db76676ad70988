// The quantized weights as onnxruntime's kernels read them: one-node graphs (built with the
// project's GraphBuilder and emitLinear) run by onnxruntime-node against a JS reference matmul
// over the dequantized weights. A wrong nibble order, block stride or scale layout gives errors
// of order 100%, not the ~1% of int8 activation rounding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../engine/local/onnx/graph';
import { DataType } from '../../engine/local/onnx/onnx-proto';
import { emitLinear } from '../../engine/local/onnx/linear';
import type { LinearRole } from '../../engine/local/onnx/linear-spec';
import { emitMatMulNBits } from '../../engine/local/quant/emit';
import { quantizeInt4, dequantizeInt4 } from '../../engine/local/quant/int4';
import { quantizeInt8, dequantizeInt8 } from '../../engine/local/quant/int8';
import type { Quantization } from '../../engine/local/runner';
import { linearPrecision } from '../../engine/local/quant/policy';
import { int4LoneRowDiffers } from '../../engine/local/quant/lone-row';

function rand(seed: number) {
  let s = seed;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296) - 0.5;
}

/** y[M, N] = x[M, K] @ w[K, N] + b */
function refMatMul(x: Float32Array, w: Float32Array, b: Float32Array | null, M: number, K: number, N: number): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = b ? b[n] : 0;
      for (let k = 0; k < K; k++) acc += x[m * K + k] * w[k * N + n];
      y[m * N + n] = acc;
    }
  }
  return y;
}

function relErr(got: Float32Array, want: Float64Array): number {
  let e = 0;
  let r = 0;
  for (let i = 0; i < want.length; i++) {
    e += (got[i] - want[i]) ** 2;
    r += want[i] ** 2;
  }
  return Math.sqrt(e / r);
}

async function runOneNode(build: (g: GraphBuilder, x: string) => string, x: Float32Array, dims: number[], N: number): Promise<Float32Array> {
  const dir = mkdtempSync(join(tmpdir(), 'neox-quant-layout-'));
  try {
    const g = new GraphBuilder(join(dir, 'm.data'));
    const xin = g.input({ name: 'x', elemType: DataType.FLOAT, shape: dims.map((d, i) => (i < dims.length - 1 ? `d${i}` : d)) });
    const y = build(g, xin);
    g.output({ name: y, elemType: DataType.FLOAT, shape: [...dims.slice(0, -1).map((_, i) => `d${i}`), N] });
    g.finish(join(dir, 'm.onnx'));
    const s = await ort.InferenceSession.create(join(dir, 'm.onnx'), { intraOpNumThreads: 1 });
    const out = await s.run({ x: new ort.Tensor('float32', x, dims) });
    await s.release();
    return out[y].data as Float32Array;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// K=200 is not a multiple of either block size; batch dims [2, 3] like the model's [B, T, K].
const K = 200;
const N = 48;
const M = 6;
const r = rand(7);
const W = Float32Array.from({ length: K * N }, () => 0.05 * r());
const B = Float32Array.from({ length: N }, () => r());
const X = Float32Array.from({ length: M * K }, () => r());

for (const blockSize of [32, 128]) {
  test(`MatMulNBits 4-bit layout, block ${blockSize}, K not a multiple of the block (fp32 accuracy level: exact)`, async () => {
    const q = quantizeInt4(W, K, N, { blockSize });
    const want = refMatMul(X, dequantizeInt4(q), B, M, K, N);
    const got = await runOneNode((g, x) => emitMatMulNBits(g, x, 'lin', q, B, 4, 0), X, [2, 3, K], N);
    assert.ok(relErr(got, want) < 1e-5, `relative error ${relErr(got, want)}`);
  });
}

/**
 * The error that int8 activations alone add, as an RMS relative error predicted from the data: the
 * kernel (MatMulNBits, accuracy_level 4) rounds x to int8 per row and per block of `block` along K,
 * with step amax(block)/127, so each element carries an independent rounding error of variance
 * step^2/12 and output (m, n) an error of variance sum_k step(m,k)^2/12 * w[k,n]^2. A realised error
 * of many such independent terms lies close to this RMS on any processor, so 3x it is a bound that
 * holds with margin everywhere, while a wrong layout or a saturating kernel (errors of 5-100%) fails.
 */
function predictedActivationNoise(x: Float32Array, w: Float32Array, y: Float64Array, M: number, K: number, N: number, block: number): number {
  let noise = 0;
  for (let m = 0; m < M; m++) {
    for (let k0 = 0; k0 < K; k0 += block) {
      let amax = 0;
      for (let k = k0; k < Math.min(K, k0 + block); k++) amax = Math.max(amax, Math.abs(x[m * K + k]));
      const variance = (amax / 127) ** 2 / 12;
      for (let k = k0; k < Math.min(K, k0 + block); k++) for (let n = 0; n < N; n++) noise += variance * w[k * N + n] ** 2;
    }
  }
  let signal = 0;
  for (const v of y) signal += v * v;
  return Math.sqrt(noise / signal);
}

const cases: [Quantization, LinearRole][] = [
  ['int4', 'mlp.up'],
  ['int8', 'mlp.down'],
  ['int4', 'head'], // the head stays int8 under int4 (quant/policy.ts)
  ['fp32', 'attention.qkv'],
];
for (const [quant, role] of cases) {
  test(`emitLinear ${quant} ${role}: onnxruntime matches the JS reference`, async () => {
    const precision = linearPrecision(role, quant);
    const wq = precision === 'int4' ? dequantizeInt4(quantizeInt4(W, K, N, { blockSize: 32 })) : precision === 'int8' ? dequantizeInt8(quantizeInt8(W, K, N)) : W;
    const want = refMatMul(X, wq, B, M, K, N);
    const got = await runOneNode((g, x) => emitLinear(g, x, { name: 'lin', role, weight: W, K, N, bias: B }, { quant, blockSize: 32 }), X, [2, 3, K], N);
    const e = relErr(got, want);
    // fp32: float32 accumulation over K=200 terms, relative error ~ sqrt(K) * 2^-24 ~ 1e-6.
    const tol = precision === 'fp32' ? 1e-5 : 3 * predictedActivationNoise(X, wq, want, M, K, N, 32);
    assert.ok(e < tol, `relative error ${e} (tolerance ${tol})`);
    // and the quantized result is really quantized: the int4 error vs exact fp32 is visible
    if (precision === 'int4') assert.ok(relErr(got, refMatMul(X, W, B, M, K, N)) > 1e-3);
  });
}

// Activations are quantized per row, so a row's result is the same alone as in a batch: what makes
// greedy continuations independent of batching and of prefix caching at every precision. Bit for bit,
// as a 1-ulp difference can flip a near-tie of the greedy pick many layers later. Where a lone int4 row
// takes a kernel of its own (AVX2-only x86-64, ARMv8.0: quant/lone-row.ts), the probe must say so and
// the row, given a padding companion as the runner then gives it, must equal its batched self.
for (const quant of ['int4', 'int8', 'fp32'] as Quantization[]) {
  test(`emitLinear ${quant}: each row's output is the same alone as in a batch, bit for bit`, async () => {
    // K a multiple of the block, as in every GPT-NeoX model (with a partial last block, ARM64's dot
    // product kernels give the last rows of a run, beyond a multiple of four, results of their own).
    const K = 256;
    const W = Float32Array.from({ length: K * N }, () => 0.05 * r());
    const X = Float32Array.from({ length: M * K }, () => r());
    const build = (g: GraphBuilder, x: string) => emitLinear(g, x, { name: 'lin', role: 'mlp.up', weight: W, K, N, bias: B }, { quant, blockSize: 32 });
    const batch = await runOneNode(build, X, [2, 3, K], N);
    const pair = await runOneNode(build, X.subarray(0, 2 * K), [1, 2, K], N);
    assert.deepEqual(Array.from(pair), Array.from(batch.subarray(0, 2 * N)), 'rows 0-1 computed as a pair and among six');
    const padLoneRow = quant === 'int4' && (await int4LoneRowDiffers());
    let lonesDiffer = 0;
    for (let m = 0; m < M; m++) {
      const row = X.subarray(m * K, (m + 1) * K);
      const alone = await runOneNode(build, row, [1, 1, K], N);
      const differ = alone.reduce((c, v, n) => c + (v === batch[m * N + n] ? 0 : 1), 0);
      if (differ) lonesDiffer++;
      if (!padLoneRow) {
        assert.equal(differ, 0, `row ${m}: ${differ} of ${N} outputs differ alone and in the batch (column 0: ${alone[0]} vs ${batch[m * N]})${quant === 'int4' ? ', and the lone-row probe did not see it' : ''}`);
        continue;
      }
      // A padding companion: token 0's embedding in the runner, zeros here; any content will do.
      const padded = new Float32Array(2 * K);
      padded.set(row);
      const companion = (await runOneNode(build, padded, [1, 2, K], N)).subarray(0, N);
      assert.deepEqual(Array.from(companion), Array.from(batch.subarray(m * N, (m + 1) * N)), `row ${m} with a padding companion`);
    }
    // A probe that cried wolf would cost every decode step a padding position for nothing.
    if (padLoneRow) assert.ok(lonesDiffer > 0, 'the lone-row probe said lone rows differ, yet none did');
  });
}

// The graph builder hands torch-layout [N, K] weights over (layout 'NK'): same results as [K, N].
for (const quant of ['int4', 'int8', 'fp32'] as Quantization[]) {
  test(`emitLinear ${quant}: torch-layout (NK) weights give the same output as KN`, async () => {
    const WT = new Float32Array(K * N);
    for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) WT[n * K + k] = W[k * N + n];
    const kn = await runOneNode((g, x) => emitLinear(g, x, { name: 'lin', role: 'mlp.up', weight: W, K, N, bias: B }, { quant, blockSize: 32 }), X, [2, 3, K], N);
    const nk = await runOneNode((g, x) => emitLinear(g, x, { name: 'lin', role: 'mlp.up', weight: WT, K, N, bias: B, layout: 'NK' }, { quant, blockSize: 32 }), X, [2, 3, K], N);
    assert.deepEqual(Array.from(nk), Array.from(kn));
  });
}
