/**
 * Client-side stop strings for servers that return the stop sequence inside the text (TGI's
 * native API does: finish_reason "stop_sequence" with the stop text included). Our contract
 * is that the stop string is never returned, and streamed text must never show it either,
 * so text that could be the start of a stop string is held back until it is decided.
 */
export class StopFilter {
  private pending = '';
  stopped = false;

  constructor(private readonly stops: string[]) {}

  /** Feed new text; returns the text that is now safe to emit. */
  push(text: string): string {
    if (this.stopped) return '';
    this.pending += text;
    let cut = -1;
    for (const s of this.stops) {
      if (!s) continue;
      const i = this.pending.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      this.stopped = true;
      const out = this.pending.slice(0, cut);
      this.pending = '';
      return out;
    }
    const hold = this.heldBackLength();
    const out = this.pending.slice(0, this.pending.length - hold);
    this.pending = this.pending.slice(this.pending.length - hold);
    return out;
  }

  /** The stream ended without a stop string: release what was held back. */
  flush(): string {
    const out = this.stopped ? '' : this.pending;
    this.pending = '';
    return out;
  }

  /** Length of the longest suffix of `pending` that is a proper prefix of some stop string. */
  private heldBackLength(): number {
    let best = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, this.pending.length); k > best; k--) {
        if (this.pending.endsWith(s.slice(0, k))) {
          best = k;
          break;
        }
      }
    }
    return best;
  }
}
