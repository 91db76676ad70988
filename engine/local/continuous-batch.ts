/**
 * Continuous batching for a shared server (`neox serve --batch N`): requests run as rows of one
 * batch that keeps stepping while requests come and go. A request joins at the next step, its
 * prompt fed in chunks beside the running rows' tokens so those keep streaming, and leaves when it
 * is done, its rows dropped from the KV cache. Each step gives every decoding row one token and
 * each joining prompt a chunk of up to `stepTokens` positions in all. The decoding rows come first
 * in the cache and the joining ones after them, and each part runs apart (runner.forwardRows): the
 * graph pads every row of a run to its widest, so one run for both would cost every decoding row
 * the chunk's width. n samples and beam search are rows of the same batch. Every row keeps its own options, stop strings, random stream and
 * cancellation, and gets the numbers it gets alone (each row owns its cache slots, kv-runner.ts),
 * so a greedy request gives the same text batched or alone.
 *
 * Prefix cache: a joining prompt starts from the cached row sharing the longest prefix with it
 * (copied, cut back to that prefix); when the batch empties, the last request's row stays in the
 * cache for the next one, as with one request at a time (decoding/prefix-cache.ts).
 */
import type { CompletionRequest, CompletionResult, TextChunk } from '../types';
import { cancelledResult, toResult } from './completion-result';
import { eosId, finishBeams, promptIds, tokenBudget, type LoadedModel } from './completions';
import { BeamSearch } from './decoding/beam-search';
import { rowDecoders, type RowDecoder, type SequenceResult } from './decoding/generate';
import type { SerialQueue } from './serial-queue';

export interface BatchOptions {
  /** Requests in the batch at once; the others wait for one to leave. */
  maxRequests: number;
  /** Prompt positions joining rows may take in one step while others decode (rows x the widest chunk). */
  stepTokens: number;
}

/** Chunks of a joining prompt are never narrower than this, however many rows run. */
const MIN_CHUNK = 8;

interface Job {
  req: CompletionRequest;
  onChunk?: (c: TextChunk) => void;
  onStart?: () => void;
  resolve(r: CompletionResult): void;
  reject(e: unknown): void;
  t0: number;
  /** The prompt's ids and how many of them the cache holds (reused ones included). */
  ids: number[];
  fed: number;
  reused: number;
  firstAt?: number;
  /** Once the prompt is in: one decoder per sample, or the beam search. */
  samples?: RowDecoder[];
  beam?: BeamSearch;
}

/** Runner row i holds rows[i]: a member (sample or beam) of a job, and the tokens it feeds next. */
interface Row {
  job: Job;
  member: number;
  next: number[];
}

const commonPrefix = (a: readonly number[], b: readonly number[]) => {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
};

export class ContinuousBatch {
  private readonly waiting: Job[] = [];
  private rows: Row[] = [];
  private running = false;

  constructor(
    private readonly model: () => LoadedModel,
    /** The runner's queue: the batch holds it while it has rows, other work runs between batches. */
    private readonly queue: SerialQueue,
    private readonly opts: BatchOptions,
  ) {}

  /** Requests waiting to join. */
  get queued(): number {
    return this.waiting.length;
  }

  submit(req: CompletionRequest, onChunk?: (c: TextChunk) => void, onStart?: () => void): Promise<CompletionResult> {
    return new Promise<CompletionResult>((resolve, reject) => {
      this.waiting.push({ req, onChunk, onStart, resolve, reject, t0: performance.now(), ids: [], fed: 0, reused: 0 });
      if (this.running) return;
      this.running = true;
      void this.queue.run(() => this.loop());
    });
  }

  private async loop(): Promise<void> {
    try {
      while (this.rows.length > 0 || this.waiting.length > 0) {
        this.admit();
        if (this.rows.length > 0) await this.step();
      }
    } finally {
      this.running = false;
    }
  }

  /** Waiting requests join while there is room; a cancelled or invalid one is answered here. */
  private admit(): void {
    const m = this.model();
    const inBatch = new Set(this.rows.map((r) => r.job)).size;
    let joined = 0;
    while (this.waiting.length > 0 && inBatch + joined < this.opts.maxRequests) {
      const job = this.waiting.shift()!;
      const n = job.req.n ?? 1;
      if (job.req.signal?.aborted) {
        job.resolve(cancelledResult(n, 0, job.t0));
        continue;
      }
      try {
        job.ids = promptIds(m, job.req.prompt, job.req.promptIds);
      } catch (e) {
        job.reject(e); // this prompt alone is at fault (too long)
        continue;
      }
      job.onStart?.();
      this.place(job);
      joined++;
    }
  }

  /** A new runner row for `job`: a copy of the row sharing its longest prefix (cut back to it), else empty. */
  private place(job: Job): void {
    const { runner } = this.model();
    const ids = job.ids;
    // At least one prompt token is always fed, for the next-token logits.
    const shared = (row: number) => Math.min(commonPrefix(runner.cachedTokens(row), ids), ids.length - 1);
    if (this.rows.length === 0) {
      // Nothing running: the cache holds the last request's row (or other work's rows); row 0 is the candidate.
      if (runner.rows > 1) runner.reorder([0]);
      const c = shared(0);
      if (c === 0) runner.reset(1);
      else runner.truncateRow(0, c);
      job.fed = job.reused = c;
    } else {
      let best = -1;
      let c = 0;
      for (let r = 0; r < this.rows.length; r++) {
        const k = shared(r);
        if (k > c) [best, c] = [r, k];
      }
      if (best >= 0) {
        runner.reorder([...this.rows.keys(), best]);
        runner.truncateRow(this.rows.length, c);
      } else runner.addRows(1);
      job.fed = job.reused = c;
    }
    this.rows.push({ job, member: 0, next: [] });
  }

  /**
   * One step: the joining rows' chunks and the decoding rows' tokens (two runs), then each job takes
   * its logits; finished rows leave, new samples and beams are copied.
   */
  private async step(): Promise<void> {
    const m = this.model();
    const firstJoining = this.rows.findIndex(({ job }) => job.fed < job.ids.length);
    const split = firstJoining < 0 ? this.rows.length : firstJoining; // rows before it decode, the rest join
    const width = split === 0 ? Infinity : Math.max(MIN_CHUNK, Math.floor(this.opts.stepTokens / (this.rows.length - split)));
    const tokens = this.rows.map(({ job, next }) => (job.fed < job.ids.length ? job.ids.slice(job.fed, job.fed + width) : next));
    let logits: Float32Array[];
    try {
      const joining = split < this.rows.length ? await m.runner.forwardRows(split, tokens.slice(split)) : [];
      const decoded = split > 0 ? await m.runner.forwardRows(0, tokens.slice(0, split)) : [];
      logits = [...decoded, ...joining];
    } catch (e) {
      // The runner starts afresh after a failed run (load.ts): every job in it fails, the waiting ones go on.
      for (const job of new Set(this.rows.map((r) => r.job))) job.reject(e);
      this.rows = [];
      return;
    }
    const now = performance.now();
    // The next layout, decoding rows first: src[i] = the current row the new row i copies, rows[i] = what it holds.
    const layout = { decode: { src: [] as number[], rows: [] as Row[] }, join: { src: [] as number[], rows: [] as Row[] } };
    const keep = (from: number, row: Row) => {
      const part = row.job.fed < row.job.ids.length ? layout.join : layout.decode;
      part.src.push(from);
      part.rows.push(row);
    };
    let parked = -1; // the row of a job that finished here: the prefix cache if the batch empties
    const finish = (job: Job, at: number, results: SequenceResult[] | CompletionResult) => {
      parked = at;
      job.resolve(Array.isArray(results) ? toResult(results, job.ids.length, job.t0, job.firstAt, job.reused) : results);
    };

    for (const [job, at] of this.jobRows()) {
      const first = at[0]!;
      if (job.fed < job.ids.length) {
        job.fed += tokens[first]!.length;
        if (job.req.signal?.aborted) finish(job, first, cancelledResult(job.req.n ?? 1, job.ids.length, job.t0));
        else if (job.fed < job.ids.length) keep(first, this.rows[first]!);
        else {
          job.firstAt = now;
          this.start(job, logits[first]!, first, keep, finish);
        }
      } else if (job.beam) {
        const step = job.beam.step(at.map((r) => logits[r]!));
        if (step && job.req.signal?.aborted) job.beam.cancel();
        if (!step || job.req.signal?.aborted) finish(job, first, finishBeams(job.beam.results(m.tokenizer), job.req.stop, job.onChunk));
        else step.tokens.forEach((t, k) => keep(at[step.src[k]!]!, { job, member: k, next: [t] }));
      } else {
        const samples = job.samples!;
        for (const r of at) {
          const row = this.rows[r]!;
          const id = samples[row.member]!.step(logits[r]!);
          if (id !== undefined) keep(r, { ...row, next: [id] });
        }
        if (samples.every((d) => d.finish)) finish(job, first, samples.map((d) => d.result()));
      }
    }
    this.relayout([...layout.decode.src, ...layout.join.src], [...layout.decode.rows, ...layout.join.rows], parked);
  }

  /** The prompt is in (its next-token logits at row `at`): the job's samples or beams begin, each a copy of that row. */
  private start(job: Job, logits: Float32Array, at: number, keep: (from: number, row: Row) => void, finish: (job: Job, at: number, r: SequenceResult[]) => void): void {
    const m = this.model();
    const { req } = job;
    const maxTokens = tokenBudget(m, req.maxTokens, job.ids.length);
    if ((req.numBeams ?? 1) > 1) {
      const beam = (job.beam = new BeamSearch({
        numBeams: req.numBeams!,
        maxTokens,
        lengthPenalty: req.lengthPenalty,
        earlyStopping: req.earlyStopping,
        eosTokenId: eosId(m),
        numReturn: req.n ?? 1,
        signal: req.signal,
      }));
      // Identical beams at the start, all copies of the prompt's row.
      const step = beam.step(new Array<Float32Array>(req.numBeams!).fill(logits));
      if (!step) return finish(job, at, finishBeams(beam.results(m.tokenizer), req.stop, job.onChunk));
      step.tokens.forEach((t, k) => keep(at, { job, member: k, next: [t] }));
      return;
    }
    const specs = Array.from({ length: req.n ?? 1 }, (_, index) => ({ index, promptIds: job.ids }));
    const samples = (job.samples = rowDecoders(specs, { ...req, maxTokens, eosTokenId: eosId(m) }, m.tokenizer, (index, text) => job.onChunk?.({ index, text })));
    samples.forEach((d, k) => {
      const id = d.step(logits);
      if (id !== undefined) keep(at, { job, member: k, next: [id] });
    });
    if (samples.every((d) => d.finish)) finish(job, at, samples.map((d) => d.result()));
  }

  /** Moves the cache to the next layout in one reorder; an emptied batch keeps `parked` as the prefix cache. */
  private relayout(src: number[], next: Row[], parked: number): void {
    const { runner } = this.model();
    if (next.length === 0) runner.reorder([parked >= 0 ? parked : 0]);
    else if (src.length !== this.rows.length || src.some((s, i) => s !== i)) runner.reorder(src);
    this.rows = next;
  }

  /** Each job in the batch with its runner rows, in row order (a job's rows are contiguous, members in order). */
  private jobRows(): Map<Job, number[]> {
    const out = new Map<Job, number[]>();
    this.rows.forEach((row, r) => {
      const at = out.get(row.job);
      if (at) at.push(r);
      else out.set(row.job, [r]);
    });
    return out;
  }
}
