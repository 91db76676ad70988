/**
 * The onnxruntime session plus its KV cache, on the thread that owns the session (the engine
 * worker). The cache is one preallocated Float32Array per layer for keys and one for values, laid
 * out [slot, row, head, head_size]: the first P slots are a contiguous prefix handed to the graph
 * as a view (no copy), and the graph's new keys/values append right after it.
 *
 * Rows share a slot timeline. Ragged rows leave masked padding slots; each row remembers which
 * slots hold its tokens, and the attention bias masks everything else, so each row computes
 * exactly what it would alone.
 *
 * Arguments are not checked here: the caller-side runner (load.ts) owns the cached token ids and
 * checks every call against them before it reaches this thread.
 */
import * as ort from 'onnxruntime-node';
import { NeoxError } from '../types';
import type { NeoxConfig } from './config';
import { io, MASKED } from './onnx/neox-graph';

export interface ForwardOutput {
  /** Logits of the returned positions of every row, concatenated; with targets, their log-probabilities. */
  logits: Float32Array;
  /** Positions returned per row (1, or the row's new-token count with allLogits). */
  counts: number[];
}

const MIN_CAPACITY = 64;

export class OnnxKvRunner {
  private rows = 1;
  private capacity = 0;
  /** Slots in use (the P of the graph's past inputs). */
  private slots = 0;
  private keys: Float32Array[] = [];
  private values: Float32Array[] = [];
  /** rowSlots[r][i] = slot holding row r's i-th cached token. */
  private rowSlots: number[][] = [[]];

  private readonly presentNames: string[];

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly config: NeoxConfig,
  ) {
    this.presentNames = Array.from({ length: config.numLayers }, (_, l) => [io.presentKey(l), io.presentValue(l)]).flat();
  }

  static async open(onnxFile: string, config: NeoxConfig, threads: number): Promise<OnnxKvRunner> {
    const session = await ort.InferenceSession.create(onnxFile, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      // Spinning worker threads burn the cores the editor, language server and other processes
      // need, and collapse throughput when cores are shared (measured: 31 ms/token spinning vs
      // 6 ms not, on 2 busy cores).
      extra: { session: { intra_op: { allow_spinning: process.env.NEOX_ORT_SPIN === '1' ? '1' : '0' } } },
    });
    return new OnnxKvRunner(session, config);
  }

  /** Floats per slot in one layer's key (or value) cache. */
  private get slotStride(): number {
    return this.rows * this.config.numHeads * this.config.headSize;
  }

  reset(rows: number): void {
    const sameShape = rows === this.rows && this.keys.length > 0;
    this.rows = rows;
    this.slots = 0;
    this.rowSlots = Array.from({ length: rows }, () => []);
    // Same shape: keep the buffers (old contents need no clearing, slots past `slots` are never
    // read). New row count: start small and grow on demand, since rows x the old capacity can be
    // gigabytes on a large model (2 MB per token per row for GPT-NeoX-20B).
    if (!sameShape) this.allocate(MIN_CAPACITY);
  }

  private allocate(capacity: number): void {
    const n = capacity * this.slotStride;
    this.capacity = capacity;
    this.keys = Array.from({ length: this.config.numLayers }, () => new Float32Array(n));
    this.values = Array.from({ length: this.config.numLayers }, () => new Float32Array(n));
  }

  /** Makes room for `added` more slots: first by dropping unused slots, then by doubling. */
  private ensureCapacity(added: number): void {
    if (this.slots + added <= this.capacity) return;
    this.compact();
    if (this.slots + added <= this.capacity) return;
    // Double (amortized copies), but never past the context length unless padding needs it.
    const needed = this.slots + added;
    const capacity = Math.max(needed, MIN_CAPACITY, Math.min(this.capacity * 2, this.config.maxPositions));
    const oldK = this.keys;
    const oldV = this.values;
    const live = this.slots * this.slotStride;
    this.allocate(capacity);
    for (let l = 0; l < this.config.numLayers && live > 0; l++) {
      this.keys[l].set(oldK[l].subarray(0, live));
      this.values[l].set(oldV[l].subarray(0, live));
    }
  }

  /** Drops slots that no row uses any more (padding of ragged rows, truncated tails). */
  private compact(): void {
    const used = new Uint8Array(this.slots);
    for (const s of this.rowSlots) for (const i of s) used[i] = 1;
    const map = new Int32Array(this.slots);
    let next = 0;
    for (let s = 0; s < this.slots; s++) map[s] = used[s] ? next++ : -1;
    if (next === this.slots) return;
    const st = this.slotStride;
    for (let l = 0; l < this.config.numLayers; l++) {
      for (const buf of [this.keys[l], this.values[l]]) {
        for (let s = 0; s < this.slots; s++) if (map[s] >= 0 && map[s] !== s) buf.copyWithin(map[s] * st, s * st, (s + 1) * st);
      }
    }
    this.rowSlots = this.rowSlots.map((r) => r.map((s) => map[s]));
    this.slots = next;
  }

  /**
   * Appends tokens[r] to row r. Returns the logits of each row's last new position, or of every
   * new position (allLogits); with `targets` (one id per new token) it returns instead the
   * log-probability of targets[r][i] at each new position i.
   */
  async forward(tokens: number[][], allLogits: boolean, targets?: number[][]): Promise<ForwardOutput> {
    const c = this.config;
    // An empty cache takes the row count of its first forward.
    if (tokens.length !== this.rows && this.rowSlots.every((r) => r.length === 0)) this.reset(tokens.length);
    const B = this.rows;
    let T = 0;
    for (const row of tokens) T = Math.max(T, row.length);
    if (targets) allLogits = true;
    this.ensureCapacity(T);
    const P = this.slots;
    const S = P + T;

    // Inputs. Padding positions (row shorter than T) get token 0 at position 0 and attend only to
    // themselves, so they stay finite; no real position ever attends to them.
    const ids = new BigInt64Array(B * T);
    const pos = new BigInt64Array(B * T);
    const bias = new Float32Array(B * T * S).fill(MASKED);
    const select: bigint[] = [];
    const want: bigint[] = [];
    const counts: number[] = [];
    for (let b = 0; b < B; b++) {
      const row = tokens[b];
      const past = this.rowSlots[b];
      const pastMask = new Float32Array(P).fill(MASKED);
      for (const s of past) pastMask[s] = 0;
      for (let t = 0; t < T; t++) {
        const base = (b * T + t) * S;
        if (t < row.length) {
          ids[b * T + t] = BigInt(row[t]);
          pos[b * T + t] = BigInt(past.length + t);
          bias.set(pastMask, base);
          bias.fill(0, base + P, base + P + t + 1);
        } else {
          bias[base + P + t] = 0;
        }
      }
      if (allLogits) {
        for (let t = 0; t < row.length; t++) {
          select.push(BigInt(b * T + t));
          want.push(BigInt(targets ? targets[b][t] : 0));
        }
      } else {
        select.push(BigInt(b * T + row.length - 1));
        want.push(0n);
      }
      counts.push(allLogits ? row.length : 1);
    }
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', ids, [B, T]),
      position_ids: new ort.Tensor('int64', pos, [B, T]),
      attention_bias: new ort.Tensor('float32', bias, [B, 1, T, S]),
      logits_index: new ort.Tensor('int64', BigInt64Array.from(select), [select.length]),
      target_ids: new ort.Tensor('int64', BigInt64Array.from(want), [want.length]),
    };
    const dims = [P, B, c.numHeads, c.headSize];
    const live = P * this.slotStride;
    for (let l = 0; l < c.numLayers; l++) {
      feeds[io.pastKey(l)] = new ort.Tensor('float32', this.keys[l].subarray(0, live), dims);
      feeds[io.pastValue(l)] = new ort.Tensor('float32', this.values[l].subarray(0, live), dims);
    }
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      // Fetch only what is needed: onnxruntime copies every fetched output into JS.
      out = await this.session.run(feeds, [targets ? 'target_logprob' : 'logits', ...this.presentNames]);
    } catch (e) {
      throw new NeoxError(`onnxruntime failed: ${(e as Error).message}`, 'engine_failed');
    }
    // Commit: new keys/values append at slot P, already in the cache's layout.
    for (let l = 0; l < c.numLayers; l++) {
      this.keys[l].set(out[io.presentKey(l)].data as Float32Array, live);
      this.values[l].set(out[io.presentValue(l)].data as Float32Array, live);
    }
    for (let b = 0; b < B; b++) for (let t = 0; t < tokens[b].length; t++) this.rowSlots[b].push(P + t);
    this.slots = S;
    let logits = out[targets ? 'target_logprob' : 'logits'].data as Float32Array;
    if (logits.byteOffset !== 0 || logits.byteLength !== logits.buffer.byteLength) logits = logits.slice();
    return { logits, counts };
  }

  reorder(src: number[]): void {
    if (src.length === this.rows && src.every((s, i) => s === i)) return;
    const rowFloats = this.config.numHeads * this.config.headSize;
    const oldSlots = this.rowSlots;
    const P = this.slots;
    if (src.length === this.rows) {
      // Beam search keeps the row count: permute slot by slot in place (no second cache).
      const st = this.slotStride;
      const tmp = new Float32Array(st);
      for (let l = 0; l < this.config.numLayers; l++) {
        for (const buf of [this.keys[l], this.values[l]]) {
          for (let s = 0; s < P; s++) {
            const slot = buf.subarray(s * st, (s + 1) * st);
            tmp.set(slot);
            for (let i = 0; i < src.length; i++) slot.set(tmp.subarray(src[i] * rowFloats, (src[i] + 1) * rowFloats), i * rowFloats);
          }
        }
      }
      this.rowSlots = src.map((i) => oldSlots[i].slice());
      return;
    }
    const oldStride = this.slotStride;
    const oldK = this.keys;
    const oldV = this.values;
    this.rows = src.length;
    this.allocate(this.capacity);
    const st = this.slotStride;
    for (let l = 0; l < this.config.numLayers; l++) {
      for (let s = 0; s < P; s++) {
        for (let i = 0; i < src.length; i++) {
          const from = s * oldStride + src[i] * rowFloats;
          const to = s * st + i * rowFloats;
          this.keys[l].set(oldK[l].subarray(from, from + rowFloats), to);
          this.values[l].set(oldV[l].subarray(from, from + rowFloats), to);
        }
      }
    }
    this.rowSlots = src.map((i) => oldSlots[i].slice());
  }

  truncate(len: number): void {
    let last = -1;
    this.rowSlots = this.rowSlots.map((r) => {
      const kept = r.slice(0, len);
      if (kept.length) last = Math.max(last, kept[kept.length - 1]);
      return kept;
    });
    this.slots = last + 1;
  }

  async dispose(): Promise<void> {
    this.keys = [];
    this.values = [];
    await this.session.release();
  }
}
