/**
 * Parallel int4 quantization for big conversions (the 20B benchmark: 20e9 weights). The engine
 * worker starts a pool for every int4 conversion that is due (engine/local/worker.ts); the bundle
 * carries this pool's worker as dist/quant-worker.mjs.
 *
 * The graph builder is synchronous (it streams each tensor into the .data file as it goes), so the
 * pool is too: the converting thread shares the tensor with worker threads through a
 * SharedArrayBuffer, quantizes its own slice of rows, and blocks on Atomics.wait until the
 * workers' slices are done. Workers start once (async) before the conversion; without them
 * (e.g. inside a bundle that carries no worker script) quantization simply runs on one thread.
 */
import { Worker } from 'node:worker_threads';
import { workerScript } from '../../assets';
import { checkBlockSize, quantizeInt4Columns, quantizeInt4Rows, type Int4Options, type Int4Weight } from './int4';

export interface RowsJob {
  w: SharedArrayBuffer;
  data: SharedArrayBuffer;
  scales: SharedArrayBuffer;
  /** [0] = jobs outstanding, [1] = a worker failed */
  ctrl: SharedArrayBuffer;
  K: number;
  n0: number;
  n1: number;
  opts: Int4Options;
}

/** Below this many weights the hand-off costs more than it saves. */
const MIN_PARALLEL = 1 << 20;

export class Int4Pool {
  private constructor(private readonly workers: Worker[]) {}

  /** Starts `n` worker threads; resolves to null when they cannot run here. */
  static async start(n: number): Promise<Int4Pool | null> {
    const entry = workerScript('quant');
    if (!entry || n < 1) return null;
    const workers: Worker[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const w = new Worker(entry.script, { eval: entry.eval });
        workers.push(w);
        await new Promise<void>((resolve, reject) => {
          w.once('message', () => resolve());
          w.once('error', reject);
          w.once('exit', (code) => reject(new Error(`int4 worker exited (${code})`)));
        });
        w.removeAllListeners();
        w.on('error', () => {}); // reported through the shared flag instead
        w.unref();
      }
      return new Int4Pool(workers);
    } catch {
      await Promise.all(workers.map((w) => w.terminate()));
      return null;
    }
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  // Shared scratch reused across tensors: V8 frees SharedArrayBuffers only on a full GC and does
  // not count them as memory pressure, so a fresh one per tensor grew the 20B conversion by
  // gigabytes per layer. Results are copied out into ordinary arrays (cheap: 0.53 B per weight).
  private input = new SharedArrayBuffer(0);
  private outData = new SharedArrayBuffer(0);
  private outScales = new SharedArrayBuffer(0);
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(8));

  private static grow(buf: SharedArrayBuffer, bytes: number): SharedArrayBuffer {
    return buf.byteLength >= bytes ? buf : new SharedArrayBuffer(bytes);
  }

  /** Same result as quantizeInt4Columns(wt, N, K, opts), on all threads. */
  quantizeColumns(wt: Float32Array, N: number, K: number, opts: Int4Options): Int4Weight {
    const blockSize = opts.blockSize ?? 32;
    checkBlockSize(blockSize);
    if (wt.length !== N * K) throw new Error(`quantizeInt4: ${wt.length} elements is not ${N}x${K}`);
    if (N * K < MIN_PARALLEL) return quantizeInt4Columns(wt, N, K, opts);
    const nBlocks = Math.ceil(K / blockSize);
    const dataBytes = N * nBlocks * (blockSize / 2);
    this.input = Int4Pool.grow(this.input, wt.byteLength);
    this.outData = Int4Pool.grow(this.outData, dataBytes);
    this.outScales = Int4Pool.grow(this.outScales, N * nBlocks * 4);
    const shared = new Float32Array(this.input, 0, wt.length);
    shared.set(wt);
    const data = new Uint8Array(this.outData, 0, dataBytes);
    const scales = new Float32Array(this.outScales, 0, N * nBlocks);
    const parts = this.workers.length + 1;
    const bounds = Array.from({ length: parts + 1 }, (_, i) => Math.round((i * N) / parts));
    const ctrl = this.ctrl;
    ctrl[0] = this.workers.length;
    ctrl[1] = 0;
    const plain: Int4Options = { blockSize, method: opts.method, clipGrid: opts.clipGrid ? [...opts.clipGrid] : undefined };
    this.workers.forEach((w, i) => {
      const job: RowsJob = { w: this.input, data: this.outData, scales: this.outScales, ctrl: ctrl.buffer as SharedArrayBuffer, K, n0: bounds[i + 1], n1: bounds[i + 2], opts: plain };
      w.postMessage(job);
    });
    quantizeInt4Rows(shared, K, bounds[0], bounds[1], plain, data, scales);
    for (let left = Atomics.load(ctrl, 0); left !== 0; left = Atomics.load(ctrl, 0)) {
      if (Atomics.wait(ctrl, 0, left, 600_000) === 'timed-out') throw new Error('int4 quantization worker did not answer in 10 minutes');
    }
    if (ctrl[1]) throw new Error('an int4 quantization worker failed');
    return { K, N, blockSize, nBlocks, data: data.slice(), scales: scales.slice() };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

let active: Int4Pool | null = null;

/** The pool emitInt4Linear uses (null = single thread). */
export function setInt4Pool(pool: Int4Pool | null): void {
  active = pool;
}
export function activeInt4Pool(): Int4Pool | null {
  return active;
}
