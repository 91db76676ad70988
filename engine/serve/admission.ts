/**
 * Bounded admission for `neox serve`: at most `concurrency` requests run on the backend and at
 * most `maxQueue` wait; one more is refused (429) at once rather than piling up latency for
 * every editor sharing the server. A waiting request whose client leaves gives up its place.
 */
/** Why a queued request was let go without running: the server is shutting down (not the client leaving). */
export class ShuttingDown extends Error {
  constructor() {
    super('server is shutting down');
  }
}

export class Admission {
  private active = 0;
  private readonly waiting: { grant: () => void; signal: AbortSignal; onAbort: () => void; refuse: () => void }[] = [];

  constructor(
    readonly concurrency: number,
    readonly maxQueue: number,
  ) {}

  get running(): number {
    return this.active;
  }
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * A slot, or undefined when the queue is full. The promise resolves with a release function
   * once the request may run, and rejects if `signal` aborts while it waits.
   */
  enter(signal: AbortSignal): Promise<() => void> | undefined {
    if (this.active < this.concurrency) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.maxQueue) return undefined;
    return new Promise((resolve, reject) => {
      const entry = {
        signal,
        grant: () => resolve(this.releaser()),
        onAbort: () => {
          const i = this.waiting.indexOf(entry);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(new Error('client left while queued'));
        },
        refuse: () => {
          signal.removeEventListener('abort', entry.onAbort);
          reject(new ShuttingDown());
        },
      };
      signal.addEventListener('abort', entry.onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  /** Shutdown: every waiting request is let go (its promise rejects with ShuttingDown); running ones keep their slots. */
  refuseWaiting(): void {
    for (const w of this.waiting.splice(0)) w.refuse();
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiting.shift();
      if (next) {
        next.signal.removeEventListener('abort', next.onAbort);
        next.grant(); // the slot passes straight to the next request
      } else this.active--;
    };
  }
}
