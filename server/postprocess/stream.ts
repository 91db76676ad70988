/**
 * Post-processing while text streams. A stream takes generated text piece by piece and returns
 * only text that the final result keeps, so the final text is exactly the concatenation of what
 * was shown (nothing is taken back). `stopped` tells the caller that the rest of the generation
 * would be dropped, so it can end the engine request.
 */
import { trimTrailingWhitespace } from './trim-whitespace';
import type { PostprocessContext } from './types';

/** trimTrailingWhitespace looks at no context. */
const NO_CONTEXT: PostprocessContext = { languageId: '', prefix: '', suffix: '', multiline: true, maxLines: Infinity };

export interface TextStream {
  /** Adds generated text; returns the text now safe to show. */
  push(delta: string): string;
  /** The generation ended; returns the rest of the text to show. */
  end(): string;
  readonly stopped: boolean;
}

/** `a` then `b`: b sees only what a lets through. */
export function chain(a: TextStream, b: TextStream): TextStream {
  return {
    push: (d) => b.push(a.push(d)),
    end: () => b.push(a.end()) + b.end(),
    get stopped() {
      return a.stopped || b.stopped;
    },
  };
}

/**
 * Trailing whitespace (spaces at line ends, blank lines at the end) is held until something
 * other than whitespace follows, then shown without the spaces before line breaks; at the end
 * it is dropped. With `leading`, whitespace before the first character is dropped as well.
 */
export class TrimStream implements TextStream {
  private held = '';
  private started: boolean;
  readonly stopped = false;

  constructor(leading = false) {
    this.started = !leading;
  }

  push(delta: string): string {
    let out = '';
    for (const m of delta.matchAll(/(\s*)(\S*)/g)) {
      if (!m[0]) continue;
      this.held += m[1]!;
      if (!m[2]) continue;
      out += (this.started ? this.held.replace(/[ \t\r]+\n/g, '\n') : '') + m[2];
      this.started = true;
      this.held = '';
    }
    return out;
  }

  end(): string {
    this.held = '';
    return '';
  }
}

/**
 * Shows whole lines of `finish(text)` (a pipeline of cutting rules), one line behind: the newest
 * line may still change (trailing spaces, a rule that looks at the next lines). When `finish`
 * cuts the text short, the rest would be dropped: the stream stops. With `gate`, nothing is
 * shown until `gate` accepts the finished text (e.g. it holds a line of code), and the stream
 * gives up (stops, shows nothing) after `gateLines` lines without that.
 */
export class LinesStream implements TextStream {
  private raw = '';
  private emitted = '';
  private open: boolean;
  private done = false;

  constructor(
    private readonly finish: (text: string) => string,
    private readonly gate?: (text: string) => boolean,
    private readonly gateLines = 4,
  ) {
    this.open = !gate;
  }

  get stopped(): boolean {
    return this.done;
  }

  push(delta: string): string {
    if (this.done || !delta) return '';
    this.raw += delta;
    const nl = this.raw.lastIndexOf('\n');
    if (nl < 0) return '';
    const complete = this.raw.slice(0, nl);
    const s = this.finish(complete);
    if (s !== trimTrailingWhitespace(complete, NO_CONTEXT)) this.done = true;
    if (!this.open) {
      if (this.gate!(s)) this.open = true;
      else if (s.split('\n').filter((l) => l.trim()).length >= this.gateLines) this.done = true;
      if (!this.open) return '';
    }
    return this.show(this.done ? s : s.slice(0, Math.max(0, s.lastIndexOf('\n'))));
  }

  end(): string {
    if (this.done) return '';
    this.done = true;
    const f = this.finish(this.raw);
    if (!this.open && !this.gate!(f)) return '';
    return this.show(f);
  }

  /** The part of `text` beyond what was shown, if `text` extends it (it keeps what was shown otherwise). */
  private show(text: string): string {
    if (!text.startsWith(this.emitted)) return '';
    const out = text.slice(this.emitted.length);
    this.emitted = text;
    return out;
  }
}
