/**
 * One generation at a time on the local engine (it has one KV cache and one worker). Waiters
 * queue in order; a waiter whose signal aborts leaves the queue without ever running.
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
   * `signal` aborts while waiting.
   */
  async run<T>(signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T | undefined> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    try {
      await prev;
      if (signal?.aborted) return undefined;
      this.holders++;
      try {
        return await fn();
      } finally {
        this.holders--;
      }
    } finally {
      release();
    }
  }
}
