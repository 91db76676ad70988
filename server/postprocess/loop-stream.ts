/**
 * Repetition loops cut while the text streams, so nothing shown is taken back later.
 * Small models under greedy decoding fall into loops; the rules (keep the first occurrence):
 * - Block loop: a block of 1..4 lines (with a word character, so `}` `}` `}` is fine) three
 *   times in a row: keep the first copy.
 * - Recurring line (code only): a line of 20+ characters seen before, or of 6+ characters with
 *   a word seen twice before: cut before it. In prose a recurring line (a code fence) is normal.
 * - In-line loop: a unit of 2..9 characters 6+ times in a row, or of 10..80 characters 3+ times
 *   (with a word character): keep two copies.
 *
 * Every rule keeps a prefix of the text, so the stream emits only the part of the text that no
 * rule can still cut: a line that may turn out to be the second copy of a block, or a line that
 * may recur, or the third copy of a unit, is held back until it is decided. When a loop is found
 * the stream stops (the caller ends the generation). The batch rules (repetition.ts) run this same
 * stream over the whole text, so the final text always equals what was streamed.
 */
const HAS_WORD = /[A-Za-z0-9_]/;
const MAX_UNIT = 80;

export type LoopKind = 'code' | 'prose';

export class LoopStream {
  private raw = '';
  private emitted = 0;
  /** Trimmed text of each complete line, and where each line starts in `raw`. */
  private readonly keys: string[] = [];
  private readonly starts: number[] = [0];
  private readonly seen = new Map<string, number>();
  /** runs[L]: how many characters in a row of the current line equal the one L before. */
  private runs = new Array<number>(MAX_UNIT + 1).fill(0);
  private cut: number | undefined;

  constructor(private readonly kind: LoopKind) {}

  /** True once a loop was found: the rest of the generation would be dropped. */
  get stopped(): boolean {
    return this.cut !== undefined;
  }

  /** Adds generated text; returns the text that is now safe to show. */
  push(delta: string): string {
    for (const ch of delta) {
      if (this.cut !== undefined) break;
      this.raw += ch;
      if (ch === '\n') this.endLine(this.raw.length - 1);
      else this.checkInline();
    }
    return this.release(this.cut ?? this.safeLength());
  }

  /** The generation ended: the last line is complete; returns the rest of the text to show. */
  end(): string {
    if (this.cut === undefined) this.endLine(this.raw.length);
    return this.release(this.cut ?? this.raw.length);
  }

  private release(upTo: number): string {
    // A rule never cuts before what it let through (see safeLength); guard anyway.
    const to = Math.max(upTo, this.emitted);
    const out = this.raw.slice(this.emitted, to);
    this.emitted = to;
    return out;
  }

  private get lineStart(): number {
    return this.starts[this.starts.length - 1]!;
  }

  /** The line from lineStart to `end` is complete: block loops, recurring lines. */
  private endLine(end: number): void {
    const key = this.raw.slice(this.lineStart, end).trim();
    this.keys.push(key);
    this.starts.push(end + 1);
    this.runs.fill(0);
    const n = this.keys.length;
    // Three copies of a block ending here; the largest block starts earliest.
    for (let k = 4; k >= 1; k--) {
      if (n < 3 * k) continue;
      const first = n - 3 * k;
      if (this.repeats(first, k, n)) {
        this.cut = this.starts[first + k]! - 1;
        return;
      }
    }
    if (this.kind !== 'code' || key.length < 6 || !HAS_WORD.test(key)) return;
    const count = (this.seen.get(key) ?? 0) + 1;
    this.seen.set(key, count);
    if ((count >= 2 && key.length >= 20) || count >= 3) this.cut = Math.max(0, this.starts[n - 1]! - 1);
  }

  /** Lines first+k .. end-1 continue the block of k lines at `first`, which has a word in it. */
  private repeats(first: number, k: number, end: number): boolean {
    if (first < 0 || !this.keys.slice(first, first + k).some((l) => HAS_WORD.test(l))) return false;
    for (let i = first + k; i < end; i++) if (this.keys[i] !== this.keys[i - k]) return false;
    return true;
  }

  /** Updates the per-unit runs with the newest character; cuts at an in-line loop. */
  private checkInline(): void {
    const t = this.raw.length - 1;
    const col = t - this.lineStart;
    for (let L = 2; L <= MAX_UNIT; L++) {
      this.runs[L] = col >= L && this.raw[t] === this.raw[t - L] ? this.runs[L]! + 1 : 0;
      const region = this.runs[L]! + L;
      if (this.runs[L] === 0 || region < (L <= 9 ? 6 : 3) * L) continue;
      const p = t + 1 - region;
      if (!HAS_WORD.test(this.raw.slice(p, p + L))) continue;
      this.cut = p + 2 * L;
      return;
    }
  }

  /** How much of `raw` no rule can cut any more. */
  private safeLength(): number {
    let safe = this.raw.length;
    const start = this.lineStart;
    const partial = this.raw.slice(start).trim();
    // In-line: a unit repeated at the end of the line may go on to loop; its third copy may go.
    for (let L = 2; L <= MAX_UNIT; L++) {
      if (!this.runs[L]) continue;
      const p = this.raw.length - this.runs[L]! - L;
      if (HAS_WORD.test(this.raw.slice(p, p + L))) safe = Math.min(safe, p + 2 * L);
    }
    // Block: the lines since j may be becoming the second and third copies of the block before j.
    const n = this.keys.length;
    for (let j = Math.max(1, n - 8); j <= n; j++) {
      for (let k = 1; k <= 4 && j - k >= 0; k++) {
        if (n - j >= 2 * k || !this.repeats(j - k, k, n)) continue;
        if (!this.keys[j - k + ((n - j) % k)]!.startsWith(partial)) continue;
        safe = Math.min(safe, this.starts[j]! - 1);
      }
    }
    // Recurring line (code): the current line may become one seen before.
    if (this.kind === 'code' && start > 0) {
      for (const [key, count] of this.seen) {
        if ((count >= 2 || key.length >= 20) && key.startsWith(partial)) {
          safe = Math.min(safe, start - 1);
          break;
        }
      }
    }
    return safe;
  }
}

/** The whole text through the stream: what streaming would have shown in the end. */
export function cutLoops(text: string, kind: LoopKind): string {
  const s = new LoopStream(kind);
  return s.push(text) + s.end();
}
