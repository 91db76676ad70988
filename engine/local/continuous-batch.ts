/**
 * Continuous batching for a shared server (`neox serve --batch N`): requests run as rows of one
 * batch that keeps stepping while requests come and go. A request joins at the next step, its
 * prompt fed in chunks beside the running rows' tokens so those keep streaming, and leaves when it
 * is done, its rows freed. Each step gives each joining prompt a chunk of up to `stepTokens`
 * positions in all, and a token to the decoding rows that batch-schedule.ts picks: short requests
 * in every step, long ones in turns, so that a short request's steps stay cheap beside long streams.
 * Joining and decoding rows run apart (runner.forwardRows, one call per run of neighbouring rows):
 * the graph pads every row of a call to its widest, so one call for both would cost every decoding
 * row the chunk's width. n samples and beam search are rows of the same batch. Every row keeps its
 * own options, stop strings, random stream and cancellation, and gets the numbers it gets alone
 * (each row owns its cache slots, kv-runner.ts), so a greedy request gives the same text batched or
 * alone, whichever steps its rows ran in.
 *
 * Rows stay where they are: a request that leaves frees its rows as slots for the next ones, and a
 * joining request takes a free slot (a new row only when none is free). Moving rows means copying
 * the cache: dropping or adding one row of twelve copied all of them (30-60 ms at 500 tokens), on
 * every request's arrival and departure. Once requests stop coming and going, gaps are closed up.
 *
 * Prefix cache: a joining prompt starts from the cached row (running or free) sharing the longest
 * prefix with it (copied into its slot, cut back to that prefix); when the batch empties, the last
 * request's row stays in the cache for the next one, as with one request at a time
 * (decoding/prefix-cache.ts).
 */
import type { CompletionRequest, CompletionResult, TextChunk } from '../types';
import { cancelledResult, toResult } from './completion-result';
import { eosId, finishBeams, promptIds, tokenBudget, type LoadedModel } from './completions';
import { contiguousRuns, rowsToRun, SHORT_WORK, type StepUnit } from './batch-schedule';
import { BeamSearch } from './decoding/beam-search';
import { rowDecoders, type RowDecoder, type SequenceResult } from './decoding/generate';
import type { SerialQueue } from './serial-queue';

export interface BatchOptions {
  /** Requests in the batch at once; the others wait for one to leave. */
  maxRequests: number;
  /** Prompt positions joining rows may take in one step while others decode (rows x the widest chunk). */
  stepTokens: number;
  /** Decoding rows per step while a short request runs (batch-schedule.ts). */
  stepRows: number;
}

/** Chunks of a joining prompt are never narrower than this, however many rows run. */
const MIN_CHUNK = 8;

/**
 * Steps without a row taken or freed after which free slots between live rows are closed up (one
 * copy of the cache): each gap costs a runner call per step (~1 ms) while rows in place save a copy
 * per arrival and departure (30-90 ms), so gaps stay while requests come and go, not once they stop.
 */
const SETTLE_STEPS = 32;

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
  /** Tokens each of its rows may generate (max_tokens within the context), and beam steps taken. */
  maxTokens: number;
  beamSteps: number;
  firstAt?: number;
  /** Once the prompt is in: one decoder per sample, or the beam search. */
  samples?: RowDecoder[];
  beam?: BeamSearch;
}

/** Runner row i holds rows[i]: a member (sample or beam) of a job, the tokens it feeds next, and steps since it ran. */
interface Row {
  job: Job;
  member: number;
  next: number[];
  waited: number;
}

const commonPrefix = (a: readonly number[], b: readonly number[]) => {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
};

export class ContinuousBatch {
  private readonly waiting: Job[] = [];
  /** By runner row: what it holds, or undefined for a free slot (its cache may still serve as a prefix). */
  private rows: (Row | undefined)[] = [];
  private running = false;
  /** Steps since a row was last taken or freed (SETTLE_STEPS). */
  private settled = 0;

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
      this.waiting.push({ req, onChunk, onStart, resolve, reject, t0: performance.now(), ids: [], fed: 0, reused: 0, maxTokens: 0, beamSteps: 0 });
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
    const inBatch = this.jobRows().size;
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
      job.maxTokens = tokenBudget(m, job.req.maxTokens, job.ids.length);
      job.onStart?.();
      this.place(job);
      joined++;
    }
  }

  /**
   * A runner row for `job`: a free slot (else a new row), holding the longest prefix of its prompt
   * that a cached row has (that row copied into the slot if it is another, cut back to the prefix).
   */
  private place(job: Job): void {
    const { runner } = this.model();
    const ids = job.ids;
    this.settled = 0;
    // At least one prompt token is always fed, for the next-token logits.
    const shared = (row: number) => Math.min(commonPrefix(runner.cachedTokens(row), ids), ids.length - 1);
    const row: Row = { job, member: 0, next: [], waited: 0 };
    if (this.rows.length === 0) {
      // Nothing running: the cache holds the last request's row (or other work's rows); row 0 is the candidate.
      if (runner.rows > 1) runner.reorder([0]);
      const c = shared(0);
      if (c === 0) runner.reset(1);
      else runner.truncateRow(0, c);
      job.fed = job.reused = c;
      this.rows = [row];
      return;
    }
    const prefix = this.rows.map((_, r) => shared(r));
    const free = this.rows.flatMap((r, i) => (r ? [] : [i]));
    let slot = free.reduce((a, b) => (prefix[b]! > prefix[a]! ? b : a), free[0] ?? -1);
    if (slot < 0) {
      runner.addRows(1);
      slot = this.rows.push(undefined) - 1;
      prefix.push(0);
    }
    let from = slot;
    prefix.forEach((c, r) => c > prefix[from]! && (from = r));
    if (from !== slot) runner.reorder(this.rows.map((_, i) => (i === slot ? from : i)));
    runner.truncateRow(slot, prefix[from]!);
    job.fed = job.reused = prefix[from]!;
    this.rows[slot] = row;
  }

  /**
   * One step: the scheduled joining rows' chunks, then the scheduled decoding rows' tokens (a runner
   * call per run of neighbouring rows), then each job takes its logits; finished rows are freed, new
   * samples and beams copied into their slots.
   */
  private async step(): Promise<void> {
    const m = this.model();
    const jobs = this.jobRows();
    const run = rowsToRun(this.units(jobs), { stepRows: this.opts.stepRows });
    const isJoining = (r: number) => this.rows[r]!.job.fed < this.rows[r]!.job.ids.length;
    const joinRows = run.filter(isJoining);
    const decodeRows = run.filter((r) => !isJoining(r));
    const width = Math.max(MIN_CHUNK, Math.floor(this.opts.stepTokens / Math.max(1, joinRows.length)));
    const tokens = new Map<number, number[]>();
    for (const r of joinRows) tokens.set(r, this.rows[r]!.job.ids.slice(this.rows[r]!.job.fed, this.rows[r]!.job.fed + width));
    for (const r of decodeRows) tokens.set(r, this.rows[r]!.next);
    const logits = new Map<number, Float32Array>();
    try {
      for (const part of [joinRows, decodeRows]) {
        for (const [first, count] of contiguousRuns(part)) {
          const out = await m.runner.forwardRows(first, Array.from({ length: count }, (_, i) => tokens.get(first + i)!));
          out.forEach((l, i) => logits.set(first + i, l));
        }
      }
    } catch (e) {
      // The runner starts afresh after a failed run (load.ts): every job in it fails, the waiting ones go on.
      for (const job of jobs.keys()) job.reject(e);
      this.rows = [];
      return;
    }
    const now = performance.now();
    const liveBefore = this.rows.filter(Boolean).length;
    /** [to, from]: runner row `to` becomes a copy of row `from` (new samples and beams) when the step ends. */
    const copies: [number, number][] = [];
    let parked = -1; // the row of a job that finished here: the prefix cache if the batch empties
    const finish = (job: Job, at: readonly number[], results: SequenceResult[] | CompletionResult) => {
      parked = at[0]!;
      this.rows.forEach((row, r) => row?.job === job && (this.rows[r] = undefined));
      job.resolve(Array.isArray(results) ? toResult(results, job.ids.length, job.t0, job.firstAt, job.reused) : results);
    };
    const ran = (r: number) => {
      const out = logits.get(r);
      if (!out) this.rows[r]!.waited++;
      else this.rows[r]!.waited = 0;
      return out;
    };

    for (const [job, at] of jobs) {
      if (job.fed < job.ids.length) {
        const first = at[0]!;
        const out = ran(first);
        if (!out) continue;
        job.fed += tokens.get(first)!.length;
        if (job.req.signal?.aborted) finish(job, at, cancelledResult(job.req.n ?? 1, job.ids.length, job.t0));
        else if (job.fed === job.ids.length) {
          job.firstAt = now;
          this.start(job, out, first, copies, finish);
        }
      } else if (job.beam) {
        const outs = at.map(ran);
        if (!outs[0]) continue;
        job.beamSteps++;
        const step = job.beam.step(outs as Float32Array[]);
        if (step && job.req.signal?.aborted) job.beam.cancel();
        if (!step || job.req.signal?.aborted) finish(job, at, finishBeams(job.beam.results(m.tokenizer), job.req.stop, job.onChunk));
        else {
          // Beam k goes to the k-th of the job's rows, a copy of the row its parent was in.
          at.forEach((r, k) => {
            const t = step.tokens[k];
            if (t === undefined) return void (this.rows[r] = undefined);
            if (at[step.src[k]!] !== r) copies.push([r, at[step.src[k]!]!]);
            this.rows[r] = { job, member: k, next: [t], waited: 0 };
          });
        }
      } else {
        const samples = job.samples!;
        for (const r of at) {
          const out = ran(r);
          if (!out) continue;
          const row = this.rows[r]!;
          const id = samples[row.member]!.step(out);
          if (id === undefined) this.rows[r] = undefined;
          else row.next = [id];
        }
        if (samples.every((d) => d.finish)) finish(job, at, samples.map((d) => d.result()));
      }
    }
    this.settled = this.rows.filter(Boolean).length === liveBefore && copies.length === 0 ? this.settled + 1 : 0;
    this.relayout(copies, parked);
  }

  /** The schedulable units of the batch: a joining prompt, each sample row, the rows of a beam search. */
  private units(jobs: Map<Job, number[]>): StepUnit[] {
    const units: StepUnit[] = [];
    for (const [job, at] of jobs) {
      const joining = job.fed < job.ids.length;
      // A cancelled request runs at once, so it leaves at once.
      const short = job.req.signal?.aborted === true || this.workLeft(job, at) <= SHORT_WORK;
      const waited = this.rows[at[0]!]!.waited;
      if (joining || job.beam) units.push({ rows: [...at].sort((a, b) => a - b), joining, short, waited });
      else for (const r of at) units.push({ rows: [r], joining, short, waited: this.rows[r]!.waited, siblings: at.length });
    }
    return units;
  }

  /** Tokens `job`'s rows may still generate, in all. */
  private workLeft(job: Job, at: readonly number[]): number {
    const { req } = job;
    if (job.fed < job.ids.length) return job.maxTokens * Math.max(req.n ?? 1, req.numBeams ?? 1);
    if (job.beam) return (job.maxTokens - job.beamSteps) * at.length;
    return at.reduce((sum, r) => sum + job.maxTokens - job.samples![this.rows[r]!.member]!.ids.length, 0);
  }

  /**
   * The prompt is in (its next-token logits at row `at`): the job's samples or beams begin, the
   * first in row `at`, the others in free slots (or new rows) as copies of it.
   */
  private start(job: Job, logits: Float32Array, at: number, copies: [number, number][], finish: (job: Job, at: readonly number[], r: SequenceResult[]) => void): void {
    const m = this.model();
    const { req } = job;
    const place = (member: number, next: number) => {
      let slot = at;
      if (member > 0) {
        slot = this.rows.findIndex((r) => !r);
        if (slot < 0) slot = this.rows.push(undefined) - 1;
        copies.push([slot, at]);
      }
      this.rows[slot] = { job, member, next: [next], waited: 0 };
    };
    if ((req.numBeams ?? 1) > 1) {
      const beam = (job.beam = new BeamSearch({
        numBeams: req.numBeams!,
        maxTokens: job.maxTokens,
        lengthPenalty: req.lengthPenalty,
        earlyStopping: req.earlyStopping,
        eosTokenId: eosId(m),
        numReturn: req.n ?? 1,
        signal: req.signal,
      }));
      // Identical beams at the start, all copies of the prompt's row.
      const step = beam.step(new Array<Float32Array>(req.numBeams!).fill(logits));
      if (!step) return finish(job, [at], finishBeams(beam.results(m.tokenizer), req.stop, job.onChunk));
      step.tokens.forEach((t, k) => place(k, t));
      return;
    }
    const specs = Array.from({ length: req.n ?? 1 }, (_, index) => ({ index, promptIds: job.ids }));
    const samples = (job.samples = rowDecoders(specs, { ...req, maxTokens: job.maxTokens, eosTokenId: eosId(m) }, m.tokenizer, (index, text) => job.onChunk?.({ index, text })));
    let member = 0;
    samples.forEach((d) => {
      const id = d.step(logits);
      if (id !== undefined) place(member++, id);
    });
    if (member === 0) this.rows[at] = undefined;
    if (samples.every((d) => d.finish)) finish(job, [at], samples.map((d) => d.result()));
  }

  /** Applies the step's copies in one reorder (rows past the runner's are new); an emptied batch keeps `parked` as the prefix cache. */
  private relayout(copies: [number, number][], parked: number): void {
    const { runner } = this.model();
    if (!this.rows.some(Boolean)) {
      runner.reorder([parked >= 0 ? parked : 0]);
      this.rows = [];
      return;
    }
    const gap = this.rows.findIndex((r) => !r);
    if (copies.length === 0 && this.settled >= SETTLE_STEPS && gap >= 0 && this.rows.slice(gap).some(Boolean)) {
      const live = this.rows.flatMap((r, i) => (r ? [i] : []));
      runner.reorder(live);
      this.rows = live.map((i) => this.rows[i]);
      return;
    }
    if (copies.length === 0 && this.rows.length === runner.rows) return;
    const src = this.rows.map((_, i) => i);
    for (const [to, from] of copies) src[to] = from;
    runner.reorder(src);
  }

  /** Each job in the batch with its runner rows, in member order. */
  private jobRows(): Map<Job, number[]> {
    const out = new Map<Job, number[]>();
    this.rows.forEach((row, r) => {
      if (!row) return;
      const at = out.get(row.job);
      if (at) at.push(r);
      else out.set(row.job, [r]);
    });
    for (const at of out.values()) at.sort((a, b) => this.rows[a]!.member - this.rows[b]!.member);
    return out;
  }
}
