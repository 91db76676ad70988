/**
 * Generations running on the backend now, inline and streaming together: the status shows
 * 'generating' while any runs. It counts; it never queues (that is the backend's business).
 */
export class Activity {
  private count = 0;

  constructor(private readonly onBusy: (busy: boolean) => void = () => undefined) {}

  get running(): number {
    return this.count;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.count++ === 0) this.onBusy(true);
    try {
      return await fn();
    } finally {
      if (--this.count === 0) this.onBusy(false);
    }
  }
}
