/**
 * loadRunner: the one entry point to the local model. Starts the engine worker (which converts the
 * checkpoint on first use, then loads the cached ONNX model) and returns a ModelRunner proxy that
 * lives on the caller's thread and talks to the worker by messages. Logits come back as
 * transferred ArrayBuffers (no copy).
 */
import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { NeoxError, QUANTIZATIONS, type LoadProgress } from '../types';
import type { LoadOptions, ModelRunner, Pooling, RunnerInfo } from './runner';
import { POOLINGS } from './runner';
import type { FromWorker, ToWorker } from './worker-protocol';
import { checkForward } from './forward-check';
import { workerScript, type WorkerScript } from '../assets';

export type { LoadOptions, ModelRunner, RunnerInfo } from './runner';

/** The engine worker's script; NEOX_ENGINE_WORKER names another one (tests start broken and dying workers). */
function engineWorker(): WorkerScript {
  if (process.env.NEOX_ENGINE_WORKER) return { script: pathToFileURL(process.env.NEOX_ENGINE_WORKER), eval: false };
  const entry = workerScript('engine');
  if (!entry) throw new NeoxError('Engine worker not found next to the bundle (run `npm run build`)', 'engine_missing');
  return entry;
}

interface Pending {
  resolve: (v: Float32Array[]) => void;
  reject: (e: Error) => void;
}

class WorkerRunner implements ModelRunner {
  /**
   * The cached token ids of each row. The worker keeps only their keys and values, so this side
   * checks every call against them and the worker takes what it is sent.
   */
  private tokens: number[][] = [[]];
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly disposeWaiters = new Map<number, () => void>();
  private dead: NeoxError | undefined;

  constructor(
    private readonly worker: Worker,
    readonly info: RunnerInfo,
  ) {
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    worker.on('error', (e) => this.fail(new NeoxError(`engine worker crashed: ${e.message}`, 'engine_failed')));
    worker.on('exit', (code) => this.fail(new NeoxError(`engine worker stopped (exit code ${code})`, 'engine_failed')));
    worker.unref();
  }

  get rows(): number {
    return this.tokens.length;
  }

  private post(m: ToWorker): void {
    if (this.dead) throw this.dead;
    this.worker.postMessage(m);
  }

  private fail(e: NeoxError): void {
    this.dead ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    for (const w of this.disposeWaiters.values()) w();
    this.disposeWaiters.clear();
  }

  private onMessage(m: FromWorker): void {
    if (m.type === 'result') {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.worker.unref();
      if (!p) return;
      const all = new Float32Array(m.logits);
      const V = m.width;
      const out: Float32Array[] = [];
      let off = 0;
      for (const n of m.counts) {
        out.push(all.subarray(off * V, (off + n) * V));
        off += n;
      }
      p.resolve(out);
    } else if (m.type === 'error' && m.id !== undefined) {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.worker.unref();
      p?.reject(new NeoxError(m.message, m.code));
    } else if (m.type === 'disposed') {
      this.disposeWaiters.get(m.id)?.();
      this.disposeWaiters.delete(m.id);
    }
  }

  reset(rows: number): void {
    if (!Number.isInteger(rows) || rows < 1) throw new NeoxError(`reset: rows must be a positive integer (got ${rows})`, 'bad_request');
    this.post({ type: 'reset', rows });
    this.tokens = Array.from({ length: rows }, () => []);
  }

  forward(tokens: number[][], opts?: { allLogits?: boolean }): Promise<Float32Array[]> {
    return this.request(tokens, !!opts?.allLogits);
  }

  scoreNext(tokens: number[][], next: number[][]): Promise<Float32Array[]> {
    return this.request(tokens, true, next.map((r) => r.slice()));
  }

  forwardRows(first: number, tokens: number[][]): Promise<Float32Array[]> {
    if (!Number.isInteger(first) || first < 0 || !Array.isArray(tokens) || first + tokens.length > this.tokens.length) {
      return Promise.reject(new NeoxError(`forwardRows: rows ${first}..${first + (tokens?.length ?? 0) - 1} are not all in the cache (rows: ${this.tokens.length})`, 'bad_request'));
    }
    return this.request(tokens, false, undefined, first);
  }

  private request(tokens: number[][], allLogits: boolean, targets?: number[][], first?: number): Promise<Float32Array[]> {
    if (this.dead) return Promise.reject(this.dead);
    const copy = tokens.map((r) => (Array.isArray(r) ? r.slice() : r));
    const at = first ?? 0;
    try {
      const cached = (first === undefined ? this.tokens : this.tokens.slice(at, at + copy.length)).map((r) => r.length);
      const rows = checkForward(copy, targets, cached, this.info.vocabSize, this.info.contextLength);
      if (first === undefined && rows !== this.tokens.length) this.tokens = copy.map(() => []);
    } catch (e) {
      return Promise.reject(e);
    }
    // The tokens follow call order (the worker handles messages in order), so a truncate or
    // reorder issued before this forward resolves applies after its tokens, as in the worker.
    copy.forEach((r, i) => this.tokens[at + i]!.push(...r));
    const id = this.nextId++;
    return new Promise<Float32Array[]>((resolve, reject) => {
      this.pending.set(id, {
        resolve,
        reject: (e) => {
          // The worker keeps its cache unchanged when a run fails; start both sides afresh so
          // they cannot disagree (callers see empty cachedTokens and recompute).
          if (!this.dead) this.reset(this.tokens.length);
          reject(e);
        },
      });
      this.worker.ref();
      this.worker.postMessage({ type: 'forward', id, tokens: copy, allLogits, targets, first } satisfies ToWorker);
    });
  }

  embed(tokens: number[][], opts: { layer: number; pooling: Pooling }): Promise<Float32Array[]> {
    if (this.dead) return Promise.reject(this.dead);
    const copy = Array.isArray(tokens) ? tokens.map((r) => (Array.isArray(r) ? r.slice() : r)) : tokens;
    try {
      checkEmbed(copy, opts, this.info);
    } catch (e) {
      return Promise.reject(e);
    }
    const id = this.nextId++;
    return new Promise<Float32Array[]>((resolve, reject) => {
      // The KV cache is not involved: a failed embed leaves it as it is.
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ type: 'embed', id, tokens: copy, layer: opts.layer, pooling: opts.pooling } satisfies ToWorker);
    });
  }

  reorder(src: number[]): void {
    if (!Array.isArray(src) || src.length === 0 || src.some((i) => !Number.isInteger(i) || i < 0 || i >= this.tokens.length)) {
      throw new NeoxError(`reorder: every source row must be an integer in 0..${this.tokens.length - 1} (got ${JSON.stringify(src)})`, 'bad_request');
    }
    this.post({ type: 'reorder', src: src.slice() });
    const old = this.tokens;
    this.tokens = src.map((i) => old[i].slice());
  }

  truncate(len: number): void {
    if (!Number.isInteger(len) || len < 0) throw new NeoxError(`truncate: length must be a non-negative integer (got ${len})`, 'bad_request');
    this.post({ type: 'truncate', len });
    this.tokens = this.tokens.map((r) => r.slice(0, len));
  }

  addRows(count: number): void {
    if (!Number.isInteger(count) || count < 1) throw new NeoxError(`addRows: count must be a positive integer (got ${count})`, 'bad_request');
    this.post({ type: 'addRows', count });
    for (let i = 0; i < count; i++) this.tokens.push([]);
  }

  truncateRow(row: number, len: number): void {
    if (!Number.isInteger(row) || row < 0 || row >= this.tokens.length) throw new NeoxError(`truncateRow: no row ${row} (rows: ${this.tokens.length})`, 'bad_request');
    if (!Number.isInteger(len) || len < 0) throw new NeoxError(`truncateRow: length must be a non-negative integer (got ${len})`, 'bad_request');
    this.post({ type: 'truncateRow', row, len });
    this.tokens[row] = this.tokens[row]!.slice(0, len);
  }

  cachedTokens(row: number): number[] {
    const r = this.tokens[row];
    if (!r) throw new NeoxError(`cachedTokens: no row ${row} (rows: ${this.tokens.length})`, 'bad_request');
    return r.slice();
  }

  async dispose(): Promise<void> {
    if (this.dead) return;
    const id = this.nextId++;
    this.worker.ref();
    await new Promise<void>((resolve) => {
      this.disposeWaiters.set(id, resolve);
      this.worker.postMessage({ type: 'dispose', id } satisfies ToWorker);
    });
    this.dead = new NeoxError('model runner was disposed', 'disposed');
    await this.worker.terminate();
  }
}

/** Why the worker cannot embed these rows with these options, if it cannot. */
function checkEmbed(tokens: number[][], opts: { layer: number; pooling: Pooling }, info: RunnerInfo): void {
  const layers = info.numLayers ?? 0;
  if (!Number.isInteger(opts?.layer) || opts.layer < 0 || opts.layer > layers) {
    throw new NeoxError(`embed: layer must be an integer in 0..${layers} (got ${opts?.layer})`, 'bad_request');
  }
  if (!POOLINGS.includes(opts.pooling)) throw new NeoxError(`embed: pooling must be one of ${POOLINGS.join(', ')} (got ${JSON.stringify(opts.pooling)})`, 'bad_request');
  if (!Array.isArray(tokens) || tokens.length === 0) throw new NeoxError('embed: tokens must be a non-empty array of rows', 'bad_request');
  tokens.forEach((row, r) => {
    if (!Array.isArray(row) || row.length === 0) throw new NeoxError(`embed: row ${r} has no tokens`, 'bad_request');
    if (row.length > info.contextLength) {
      throw new NeoxError(`embed: row ${r} has ${row.length} tokens, more than the model's context length ${info.contextLength}`, 'context_exceeded');
    }
    for (const id of row) {
      if (!Number.isInteger(id) || id < 0 || id >= info.vocabSize) {
        throw new NeoxError(`embed: token id ${id} in row ${r} is outside the vocabulary (0..${info.vocabSize - 1})`, 'bad_request');
      }
    }
  });
}

/**
 * Loads (converting on first use) the checkpoint in `opts.modelDir` and returns a runner.
 * Progress (read-config, convert with per-layer fraction, load, ready) goes to `onProgress`.
 * Every failure is a NeoxError with a one-line message naming the file, field or tensor.
 */
export async function loadRunner(opts: LoadOptions, onProgress?: (p: LoadProgress) => void): Promise<ModelRunner> {
  if (!opts || typeof opts.modelDir !== 'string' || !opts.modelDir) throw new NeoxError('loadRunner: modelDir is required', 'bad_request');
  if (!QUANTIZATIONS.includes(opts.quant)) {
    throw new NeoxError(`quant must be one of ${QUANTIZATIONS.join(', ')} (got ${JSON.stringify(opts.quant)})`, 'bad_request');
  }
  if (opts.threads !== undefined && (!Number.isInteger(opts.threads) || opts.threads < 1)) {
    throw new NeoxError(`threads must be a positive integer (got ${opts.threads})`, 'bad_request');
  }
  const entry = engineWorker();
  const worker = new Worker(entry.script, { eval: entry.eval, execArgv: [] });
  const info = await new Promise<RunnerInfo>((resolve, reject) => {
    const onMessage = (m: FromWorker) => {
      if (m.type === 'progress') onProgress?.(m.progress);
      else if (m.type === 'ready') done(() => resolve(m.info));
      else if (m.type === 'error') done(() => reject(new NeoxError(m.message, m.code)));
    };
    const onError = (e: Error) => done(() => reject(new NeoxError(`engine worker failed to start: ${e.message}`, 'engine_failed')));
    const onExit = (code: number) => done(() => reject(new NeoxError(`engine worker exited during load (code ${code})`, 'engine_failed')));
    const done = (f: () => void) => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      f();
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.postMessage({ type: 'load', opts: { ...opts } } satisfies ToWorker);
  }).catch(async (e) => {
    await worker.terminate();
    throw e;
  });
  return new WorkerRunner(worker, info);
}
