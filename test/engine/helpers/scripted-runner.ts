/**
 * A ModelRunner without a neural network, for testing decoding: the next-token logits are a
 * function of each row's full token history. It keeps a real per-row cache of token ids so
 * reorder/truncate/prefix reuse behave like the ONNX runner, counts the tokens it is fed, and
 * refuses overlapping calls (the backend must queue requests).
 */
import type { ModelRunner, RunnerInfo } from '../../../engine/local/runner';

export type LogitsFn = (history: readonly number[]) => Float32Array;

export class ScriptedRunner implements ModelRunner {
  readonly info: RunnerInfo;
  private cache: number[][] = [[]];
  /** Total tokens passed to forward() (what prefix reuse saves). */
  fed = 0;
  forwardCalls = 0;
  /** Per forward() call, the number of tokens each row was fed (rows and their widths). */
  readonly shapes: number[][] = [];
  private busy = false;

  constructor(
    private readonly logitsFn: LogitsFn,
    opts: { vocabSize?: number; contextLength?: number; eosTokenId?: number; delayMs?: number } = {},
  ) {
    this.info = {
      vocabSize: opts.vocabSize ?? 50304,
      contextLength: opts.contextLength ?? 2048,
      eosTokenId: opts.eosTokenId ?? 0,
      onnxPath: '(scripted)',
      summary: { architecture: 'scripted' },
    };
    this.delayMs = opts.delayMs ?? 0;
  }
  private readonly delayMs: number;

  get rows(): number {
    return this.cache.length;
  }
  reset(rows: number): void {
    this.cache = Array.from({ length: rows }, () => []);
  }
  async forward(tokens: number[][], opts?: { allLogits?: boolean }): Promise<Float32Array[]> {
    if (this.busy) throw new Error('ScriptedRunner: overlapping forward() calls');
    if (tokens.length !== this.cache.length) throw new Error(`ScriptedRunner: ${tokens.length} token rows for ${this.cache.length} cache rows`);
    this.busy = true;
    try {
      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
      this.forwardCalls++;
      this.shapes.push(tokens.map((row) => row.length));
      return tokens.map((row, r) => {
        if (row.length === 0) throw new Error('ScriptedRunner: empty row');
        const outs: Float32Array[] = [];
        for (const t of row) {
          this.cache[r]!.push(t);
          this.fed++;
          outs.push(this.logitsFn(this.cache[r]!));
        }
        if (!opts?.allLogits) return outs[outs.length - 1]!;
        const all = new Float32Array(outs.length * this.info.vocabSize);
        outs.forEach((o, i) => all.set(o, i * this.info.vocabSize));
        return all;
      });
    } finally {
      this.busy = false;
    }
  }
  /** Rows first .. first + tokens.length - 1 only; `shapes` records the call with 0 for the rows left out. */
  async forwardRows(first: number, tokens: number[][]): Promise<Float32Array[]> {
    if (first === 0 && tokens.length === this.cache.length) return this.forward(tokens);
    const whole = this.cache;
    this.cache = whole.slice(first, first + tokens.length);
    try {
      const out = await this.forward(tokens);
      const shape = this.shapes.pop()!;
      this.shapes.push([...new Array<number>(first).fill(0), ...shape, ...new Array<number>(whole.length - first - tokens.length).fill(0)]);
      return out;
    } finally {
      this.cache = whole;
    }
  }
  reorder(src: number[]): void {
    this.cache = src.map((s) => [...this.cache[s]!]);
  }
  truncate(len: number): void {
    for (const row of this.cache) row.length = Math.min(row.length, len);
  }
  addRows(count: number): void {
    for (let i = 0; i < count; i++) this.cache.push([]);
  }
  truncateRow(row: number, len: number): void {
    this.cache[row]!.length = Math.min(this.cache[row]!.length, len);
  }
  cachedTokens(row: number): number[] {
    return [...this.cache[row]!];
  }
  async dispose(): Promise<void> {}
}

/** Logits of -10 everywhere except `peaks` (token id -> logit). */
export function peaked(vocab: number, peaks: Record<number, number>): Float32Array {
  const l = new Float32Array(vocab).fill(-10);
  for (const [id, v] of Object.entries(peaks)) l[Number(id)] = v;
  return l;
}

/**
 * A "model" that, after any history ending in `prompt` + k script tokens, strongly predicts
 * script[k], then EOS (id 0) after the script ends. Histories not starting with a known
 * prompt predict EOS.
 */
export function scriptFn(scripts: { prompt: number[]; script: number[] }[], vocab = 50304): LogitsFn {
  return (h) => {
    for (const { prompt, script } of scripts) {
      if (h.length < prompt.length || !prompt.every((t, i) => h[i] === t)) continue;
      const k = h.length - prompt.length;
      if (!script.slice(0, k).every((t, i) => h[prompt.length + i] === t)) continue;
      return peaked(vocab, { [k < script.length ? script[k]! : 0]: 10 });
    }
    return peaked(vocab, { 0: 10 });
  };
}

/** Deterministic pseudo-random logits from the history (for sampling tests): broad distributions. */
export function noisyFn(vocab = 50304, spread = 3): LogitsFn {
  return (h) => {
    let x = 2166136261;
    for (const t of h) x = Math.imul(x ^ t, 16777619);
    const l = new Float32Array(vocab).fill(-20);
    // 64 plausible tokens from the printable range, with varied logits
    for (let i = 0; i < 64; i++) {
      x = Math.imul(x ^ (x >>> 13), 0x5bd1e995) >>> 0;
      l[300 + (x % 2000)] = ((x >>> 8) % 1000) / 1000 * spread;
    }
    return l;
  };
}
