/**
 * One generation at a time on the local engine (it has one KV cache and one worker). Waiters
 * queue in order; a waiter whose signal aborts leaves the queue at once (it does not wait for
 * a long chat ahead of it to finish) without ever running.
 */
export class GenerationLock {
  private tail: Promise<void> = Promise.resolve();
  private holders = 0;

  /** Number of generations running now (0 or 1). */
  get running(): number {
    return this.holders;
  }

  /**
   * Run `fn` once every earlier holder has finished. Returns undefined without running it if
   * `signal` aborts first.
   */
  async run<T>(signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T | undefined> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<'aborted'>((resolve) => {
      if (!signal) return;
      if (signal.aborted) return resolve('aborted');
      onAbort = () => resolve('aborted');
      signal.addEventListener('abort', onAbort, { once: true });
    });
    const first = await Promise.race([prev.then(() => 'ready' as const), aborted]);
    if (onAbort) signal!.removeEventListener('abort', onAbort);
    if (first === 'aborted' || signal?.aborted) {
      // Later waiters queue behind us: hand the turn on only once the holder before us is done.
      void prev.then(release);
      return undefined;
    }
    this.holders++;
    try {
      return await fn();
    } finally {
      this.holders--;
      release();
    }
  }
}
