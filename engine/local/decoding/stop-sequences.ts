/**
 * Stop sequences while streaming. The stop string itself is never returned, and text that
 * could be the start of a stop string is held back until the next token decides, so a stop
 * string split across tokens ("\n" + "\n" for "\n\n") never leaks out partially.
 */
export class StopSequenceMatcher {
  private text = '';
  private emitted = 0;
  private stoppedAt = -1;
  private readonly maxLen: number;

  constructor(private readonly stops: readonly string[]) {
    this.maxLen = stops.reduce((m, s) => Math.max(m, s.length), 0);
  }

  get stopped(): boolean {
    return this.stoppedAt >= 0;
  }

  /** Final text so far (up to the stop string once stopped). */
  get output(): string {
    return this.stoppedAt >= 0 ? this.text.slice(0, this.stoppedAt) : this.text;
  }

  /** Add newly decoded text; returns the text that is now safe to emit. */
  push(piece: string): string {
    if (this.stopped || piece === '') return '';
    const searchFrom = Math.max(0, this.text.length - this.maxLen + 1);
    this.text += piece;
    let hit = -1;
    for (const s of this.stops) {
      const at = this.text.indexOf(s, searchFrom);
      if (at >= 0 && (hit < 0 || at < hit)) hit = at;
    }
    if (hit >= 0) {
      this.stoppedAt = hit;
      return this.take(hit);
    }
    return this.take(this.text.length - this.heldBackLength());
  }

  /** Generation ended for another reason: release what was held back. */
  flush(): string {
    if (this.stopped) return '';
    return this.take(this.text.length);
  }

  /** Length of the longest suffix of the text that is a proper prefix of some stop string. */
  private heldBackLength(): number {
    const maxK = Math.min(this.maxLen - 1, this.text.length - this.emitted);
    for (let k = maxK; k > 0; k--) {
      const tail = this.text.slice(this.text.length - k);
      if (this.stops.some((s) => s.startsWith(tail))) return k;
    }
    return 0;
  }

  private take(upTo: number): string {
    if (upTo <= this.emitted) return '';
    const out = this.text.slice(this.emitted, upTo);
    this.emitted = upTo;
    return out;
  }
}
