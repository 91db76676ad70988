/**
 * The onnxruntime session plus its KV cache, on the thread that owns the session (the engine
 * worker). The cache is one preallocated Float32Array per layer for keys and one for values, laid
 * out [row, head, slot, head_size] with a capacity of C slots: row b's i-th cached token is in slot
 * i of its own block, the whole buffer is handed to the graph as is (no copy), and the graph
 * scatters each row's new keys/values right after its own tokens (onnx/neox-graph.ts).
 *
 * Because a row's tokens never move and other rows never leave gaps in it, ragged rows, batches
 * and cached prefixes all give a row the numbers it gets alone.
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

/**
 * Capacities are multiples of this, so the attention's vectorized reductions over slots (softmax
 * sums) put each slot in the same lane whatever the capacity; 64 covers every SIMD width and unroll.
 */
export const SLOT_GRANULE = 64;
const roundUp = (n: number) => Math.ceil(n / SLOT_GRANULE) * SLOT_GRANULE;

/**
 * Positions per graph run when a prompt is longer. 256 keeps GEMMs wide enough to run at prefill
 * speed while bounding activations: 512 tokens of a 410M model in one run held ~300 MB of scores,
 * MLP activations and new keys/values (twice: onnxruntime's and the copy it hands to JS).
 */
export const PREFILL_CHUNK = 256;

export class OnnxKvRunner {
  private rows = 1;
  /** Slots per row and head in the buffers (a multiple of SLOT_GRANULE). */
  private capacity = 0;
  private keys: Float32Array[] = [];
  private values: Float32Array[] = [];
  /** rowLength[b] = tokens cached for row b (in its slots 0 .. rowLength[b]-1). */
  private rowLength: number[] = [0];

  private readonly presentNames: string[];

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly config: NeoxConfig,
    private readonly padLoneRow: boolean,
  ) {
    this.presentNames = Array.from({ length: config.numLayers }, (_, l) => [io.presentKey(l), io.presentValue(l)]).flat();
  }

  /**
   * `padLoneRow`: a run of a single row and token gets a padding position beside it, for processors
   * whose kernels compute a lone row differently (quant/lone-row.ts).
   */
  static async open(onnxFile: string, config: NeoxConfig, threads: number, padLoneRow = false): Promise<OnnxKvRunner> {
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
    return new OnnxKvRunner(session, config, padLoneRow);
  }

  /** Floats of one row's block (all heads, all slots) in one layer's key (or value) buffer. */
  private rowFloats(capacity = this.capacity): number {
    return this.config.numHeads * capacity * this.config.headSize;
  }

  reset(rows: number): void {
    const sameShape = rows === this.rows && this.keys.length > 0;
    this.rows = rows;
    this.rowLength = new Array<number>(rows).fill(0);
    // Same shape: keep the buffers (old contents need no clearing: unused slots are masked, and
    // hold finite values, so they weigh an exact 0). New row count: start small and grow on
    // demand, since rows x the old capacity can be gigabytes on a large model (2 MB per token per
    // row for GPT-NeoX-20B).
    if (!sameShape) this.allocate(SLOT_GRANULE);
  }

  private allocate(capacity: number): void {
    const n = this.rows * this.rowFloats(capacity);
    this.capacity = capacity;
    this.keys = Array.from({ length: this.config.numLayers }, () => new Float32Array(n));
    this.values = Array.from({ length: this.config.numLayers }, () => new Float32Array(n));
  }

  /** Grows every row's block to hold `needed` slots, moving the cached tokens to the new stride. */
  private ensureCapacity(needed: number): void {
    if (needed <= this.capacity) return;
    // Grow to the next granule only: every step copies and attends over all C slots (ScatterND), so
    // a spare slot costs on every token, while moving the cache to a wider stride costs about one
    // step's copy once per 64 tokens.
    const capacity = roundUp(needed);
    const { numHeads: H, headSize: hs } = this.config;
    const oldCapacity = this.capacity;
    const oldK = this.keys;
    const oldV = this.values;
    this.allocate(capacity);
    for (let l = 0; l < this.config.numLayers; l++) {
      for (let b = 0; b < this.rows; b++) {
        const live = this.rowLength[b] * hs;
        if (live === 0) continue;
        for (let h = 0; h < H; h++) {
          const from = (b * H + h) * oldCapacity * hs;
          const to = (b * H + h) * capacity * hs;
          this.keys[l].set(oldK[l].subarray(from, from + live), to);
          this.values[l].set(oldV[l].subarray(from, from + live), to);
        }
      }
    }
  }

  /**
   * Appends tokens[r] to row r. Returns the logits of each row's last new position, or of every
   * new position (allLogits); with `targets` (one id per new token) it returns instead the
   * log-probability of targets[r][i] at each new position i.
   *
   * Long prompts run in chunks of PREFILL_CHUNK positions, each on top of the cache the previous
   * one filled: memory for activations and new keys/values stays that of one chunk, and since a
   * row's numbers do not depend on how its tokens were split (see the file comment), neither do
   * the results.
   */
  async forward(tokens: number[][], allLogits: boolean, targets?: number[][]): Promise<ForwardOutput> {
    // An empty cache takes the row count of its first forward.
    if (tokens.length !== this.rows && this.rowLength.every((n) => n === 0)) this.reset(tokens.length);
    if (targets) allLogits = true;
    const width = targets ? 1 : this.config.vocabSize;
    let T = 0;
    for (const row of tokens) T = Math.max(T, row.length);
    const counts = tokens.map((row) => (allLogits ? row.length : 1));
    if (T <= PREFILL_CHUNK) return { logits: await this.run(tokens, this.picks(tokens, 0, allLogits), targets), counts };
    // Per row, its results from each chunk in order; then rows one after the other.
    const pieces: Float32Array[][] = tokens.map(() => []);
    for (let start = 0; start < T; start += PREFILL_CHUNK) {
      const part = tokens.map((row) => row.slice(start, start + PREFILL_CHUNK));
      const picks = this.picks(tokens, start, allLogits);
      const out = await this.run(part, picks, targets?.map((row) => row.slice(start, start + PREFILL_CHUNK)));
      let at = 0;
      picks.forEach((p, b) => {
        if (p.length) pieces[b].push(out.subarray(at, at + p.length * width));
        at += p.length * width;
      });
    }
    const logits = new Float32Array(counts.reduce((a, n) => a + n, 0) * width);
    let at = 0;
    for (const piece of pieces.flat()) {
      logits.set(piece, at);
      at += piece.length;
    }
    return { logits, counts };
  }

  /** Positions per row in one graph run: the longest row's, and two for a lone token where padLoneRow. */
  private width(tokens: number[][], rows = this.rows): number {
    let T = 0;
    for (const row of tokens) T = Math.max(T, row.length);
    return this.padLoneRow && rows * T === 1 ? 2 : T;
  }

  /** Positions (within the chunk at `start`) whose logits each row wants: all of them, or its last token's. */
  private picks(tokens: number[][], start: number, allLogits: boolean): number[][] {
    return tokens.map((row) => {
      const n = Math.max(0, Math.min(row.length - start, PREFILL_CHUNK));
      if (allLogits) return Array.from({ length: n }, (_, t) => t);
      const last = row.length - 1 - start;
      return last >= 0 && last < n ? [last] : [];
    });
  }

  /**
   * One graph run: appends tokens[b] to row b (a row may get none) and returns, row after row, the
   * logits (or with `targets`, the log-probability of targets[b][t]) of the positions picks[b].
   */
  private async run(tokens: number[][], picks: number[][], targets?: number[][]): Promise<Float32Array> {
    const c = this.config;
    const { numHeads: H, headSize: hs } = c;
    const B = this.rows;
    const T = this.width(tokens);
    // Padding positions of short rows are written after the row's tokens too (then forgotten).
    this.ensureCapacity(Math.max(...this.rowLength) + T);
    const C = this.capacity;

    // Padding positions (row shorter than T) get token 0 at position 0 and attend only to
    // themselves, so they stay finite; no real position ever attends to them.
    const ids = new BigInt64Array(B * T);
    const pos = new BigInt64Array(B * T);
    const bias = new Float32Array(B * T * C).fill(MASKED);
    const write = new BigInt64Array(B * H * T * 3);
    const select: bigint[] = [];
    const want: bigint[] = [];
    for (let b = 0; b < B; b++) {
      const row = tokens[b];
      const past = this.rowLength[b];
      for (let t = 0; t < T; t++) {
        const base = (b * T + t) * C;
        if (t < row.length) {
          ids[b * T + t] = BigInt(row[t]);
          pos[b * T + t] = BigInt(past + t);
          bias.fill(0, base, base + past + t + 1);
        } else {
          bias[base + past + t] = 0;
        }
        for (let h = 0; h < H; h++) {
          const at = ((b * H + h) * T + t) * 3;
          write[at] = BigInt(b);
          write[at + 1] = BigInt(h);
          write[at + 2] = BigInt(past + t);
        }
      }
      for (const t of picks[b]) {
        select.push(BigInt(b * T + t));
        if (targets) want.push(BigInt(targets[b][t]));
      }
    }
    const scoredRows = targets ? BigInt64Array.from(select, (_, i) => BigInt(i)) : new BigInt64Array(0);
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', ids, [B, T]),
      position_ids: new ort.Tensor('int64', pos, [B, T]),
      attention_bias: new ort.Tensor('float32', bias, [B, 1, T, C]),
      kv_write_index: new ort.Tensor('int64', write, [B, H, T, 3]),
      logits_index: new ort.Tensor('int64', BigInt64Array.from(select), [select.length]),
      target_rows: new ort.Tensor('int64', scoredRows, [scoredRows.length]),
      target_ids: new ort.Tensor('int64', BigInt64Array.from(want), [want.length]),
    };
    const dims = [B, H, C, hs];
    for (let l = 0; l < c.numLayers; l++) {
      feeds[io.pastKey(l)] = new ort.Tensor('float32', this.keys[l], dims);
      feeds[io.pastValue(l)] = new ort.Tensor('float32', this.values[l], dims);
    }
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      // Fetch only what is needed: onnxruntime copies every fetched output into JS.
      out = await this.session.run(feeds, [targets ? 'target_logprob' : 'logits', ...this.presentNames]);
    } catch (e) {
      throw new NeoxError(`onnxruntime failed: ${(e as Error).message}`, 'engine_failed');
    }
    // Commit: each row's new keys/values [B,H,T,hs] go right after its cached tokens.
    for (let l = 0; l < c.numLayers; l++) {
      const newK = out[io.presentKey(l)].data as Float32Array;
      const newV = out[io.presentValue(l)].data as Float32Array;
      for (let b = 0; b < B; b++) {
        const n = tokens[b].length * hs;
        if (n === 0) continue;
        for (let h = 0; h < H; h++) {
          const from = (b * H + h) * T * hs;
          const to = ((b * H + h) * C + this.rowLength[b]) * hs;
          this.keys[l].set(newK.subarray(from, from + n), to);
          this.values[l].set(newV.subarray(from, from + n), to);
        }
      }
    }
    for (let b = 0; b < B; b++) this.rowLength[b] += tokens[b].length;
    let logits = out[targets ? 'target_logprob' : 'logits'].data as Float32Array;
    if (logits.byteOffset !== 0 || logits.byteLength !== logits.buffer.byteLength) logits = logits.slice();
    return logits;
  }

  reorder(src: number[]): void {
    if (src.length === this.rows && src.every((s, i) => s === i)) return;
    const block = this.rowFloats();
    const oldLength = this.rowLength;
    if (src.length === this.rows) {
      // Same row count (beam search, a batch copying a row into a free slot): only the rows that
      // change are written, from copies of their sources (a source may be written over too).
      const moved = src.flatMap((from, to) => (from === to ? [] : [to]));
      for (let l = 0; l < this.config.numLayers; l++) {
        for (const buf of [this.keys[l], this.values[l]]) {
          const saved = new Map(moved.map((to) => [src[to], buf.slice(src[to] * block, (src[to] + 1) * block)]));
          for (const to of moved) buf.set(saved.get(src[to])!, to * block);
        }
      }
    } else {
      const oldK = this.keys;
      const oldV = this.values;
      this.rows = src.length;
      this.allocate(this.capacity);
      for (let l = 0; l < this.config.numLayers; l++) {
        src.forEach((from, to) => {
          this.keys[l].set(oldK[l].subarray(from * block, (from + 1) * block), to * block);
          this.values[l].set(oldV[l].subarray(from * block, (from + 1) * block), to * block);
        });
      }
    }
    this.rowLength = src.map((i) => oldLength[i]);
  }

  truncate(len: number): void {
    this.rowLength = this.rowLength.map((n) => Math.min(n, len));
  }

  /** Appends `count` empty rows (requests joining a running batch); the rows before keep their blocks and tokens. */
  addRows(count: number): void {
    const oldK = this.keys;
    const oldV = this.values;
    this.rows += count;
    this.rowLength.push(...new Array<number>(count).fill(0));
    if (oldK.length === 0) return this.allocate(SLOT_GRANULE);
    // Rows are the outermost dimension: the old buffers are the new ones' first rows.
    this.allocate(this.capacity);
    for (let l = 0; l < this.config.numLayers; l++) {
      this.keys[l].set(oldK[l]);
      this.values[l].set(oldV[l]);
    }
  }

  /**
   * forward() of rows first .. first + tokens.length - 1 alone (last-position logits): the other rows
   * are neither computed nor touched. A row's block is contiguous ([row, head, slot, dim]), so views of
   * these rows' blocks stand for the whole cache while they run (continuous batching: a joining
   * prompt runs apart from the decoding rows instead of padding each of them to its width).
   */
  async forwardRows(first: number, tokens: number[][]): Promise<ForwardOutput> {
    const count = tokens.length;
    if (first === 0 && count === this.rows) return this.forward(tokens, false);
    // Grown here for every row, so that forward() below never reallocates the views (a lone row's
    // padding position included).
    const T = this.width(tokens, count);
    this.ensureCapacity(Math.max(...this.rowLength.slice(first, first + count)) + T);
    const whole = { rows: this.rows, keys: this.keys, values: this.values, rowLength: this.rowLength };
    const block = this.rowFloats();
    this.rows = count;
    this.keys = whole.keys.map((k) => k.subarray(first * block, (first + count) * block));
    this.values = whole.values.map((v) => v.subarray(first * block, (first + count) * block));
    this.rowLength = whole.rowLength.slice(first, first + count);
    try {
      return await this.forward(tokens, false);
    } finally {
      const grown = this.rowLength;
      this.rows = whole.rows;
      this.keys = whole.keys;
      this.values = whole.values;
      this.rowLength = whole.rowLength;
      grown.forEach((n, i) => (this.rowLength[first + i] = n));
    }
  }

  /** Keeps only the first `len` cached tokens of `row` (a row copied from another for the prefix they share). */
  truncateRow(row: number, len: number): void {
    this.rowLength[row] = Math.min(this.rowLength[row], len);
  }

  async dispose(): Promise<void> {
    this.keys = [];
    this.values = [];
    await this.session.release();
  }
}
