/**
 * How long to wait after a keystroke before starting a generation. A fixed value from the
 * settings, or 'auto': half the recent generation latency (EWMA), clamped to [minMs, maxMs].
 * The reasoning: when a generation costs little, starting early costs little if it gets
 * cancelled; when it costs a lot, waiting for a pause in typing saves wasted work.
 */
export class AdaptiveDebounce {
  private ewma: number | undefined;

  constructor(
    public setting: number | 'auto' = 'auto',
    readonly minMs = 20,
    readonly maxMs = 250,
    readonly alpha = 0.3,
  ) {}

  /** Feed the measured latency of a finished (not cancelled) generation. */
  observe(latencyMs: number): void {
    this.ewma = this.ewma === undefined ? latencyMs : this.alpha * latencyMs + (1 - this.alpha) * this.ewma;
  }

  get delayMs(): number {
    if (typeof this.setting === 'number') return Math.max(0, this.setting);
    const base = this.ewma === undefined ? 75 : this.ewma / 2;
    return Math.round(Math.min(this.maxMs, Math.max(this.minMs, base)));
  }
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
