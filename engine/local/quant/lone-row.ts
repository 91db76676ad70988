/**
 * Whether this processor computes a lone row differently in a 4-bit MatMulNBits. onnxruntime runs a
 * single row (M=1) through a GEMV kernel on AVX2-only x86-64 processors and on ARMv8.0 (NEON without
 * the int8 dot product), and that kernel sums in another order than the one for two rows or more:
 * under qemu-x86_64 -cpu EPYC-Rome and qemu-aarch64 -cpu cortex-a57, 85% of a lone row's outputs
 * differed in their last bits from the same row computed beside another. A decode step of one
 * sequence would then not give, bit for bit, what the same row gives in a batch or a prefill, and a
 * near-tie of the greedy pick flips many layers later. Where this probe finds the difference, the
 * runner gives a lone row a padding companion (kv-runner.ts); elsewhere (AVX-512, ARM64 with the dot
 * product) a lone row costs nothing extra. From two rows on, every processor checked gives each row
 * the same result whatever the others are (test/engine/quant-layout.test.ts, run under each).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../onnx/graph';
import { DataType } from '../onnx/onnx-proto';
import { emitMatMulNBits } from './emit';
import { quantizeInt4 } from './int4';

/** A layer of the smallest GPT-NeoX width (K a multiple of the block, as in every model). */
const K = 256;
const N = 64;

let probe: Promise<boolean> | undefined;

/** True when a lone row's 4-bit MatMulNBits result differs from the same row's among others here. */
export function int4LoneRowDiffers(): Promise<boolean> {
  probe ??= runProbe();
  return probe;
}

async function runProbe(): Promise<boolean> {
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296 - 0.5);
  const w = Float32Array.from({ length: K * N }, () => 0.05 * rand());
  const x = Float32Array.from({ length: 2 * K }, rand);
  const dir = mkdtempSync(join(tmpdir(), 'neox-lone-row-'));
  try {
    const g = new GraphBuilder(join(dir, 'probe.data'));
    const input = g.input({ name: 'x', elemType: DataType.FLOAT, shape: ['m', K] });
    const y = emitMatMulNBits(g, input, 'probe', quantizeInt4(w, K, N, { blockSize: 32, method: 'rtn' }), null, 4);
    g.output({ name: y, elemType: DataType.FLOAT, shape: ['m', N] });
    g.finish(join(dir, 'probe.onnx'));
    const session = await ort.InferenceSession.create(join(dir, 'probe.onnx'), { intraOpNumThreads: 1, logSeverityLevel: 3 });
    try {
      const run = async (rows: number) => (await session.run({ x: new ort.Tensor('float32', x.slice(0, rows * K), [rows, K]) }))[y]!.data as Float32Array;
      const alone = await run(1);
      const pair = await run(2);
      return alone.some((v, n) => v !== pair[n]);
    } finally {
      await session.release();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
