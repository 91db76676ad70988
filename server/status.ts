/**
 * The server's state as the client shows it (neox/status): one owner, every change sent at once.
 */
import type { StatusParams } from '../protocol/index';

export class StatusReporter {
  private status: StatusParams;

  constructor(
    initial: StatusParams,
    private readonly send: (s: StatusParams) => void,
  ) {
    this.status = initial;
  }

  get current(): StatusParams {
    return this.status;
  }

  set(patch: Partial<StatusParams>): void {
    this.status = { ...this.status, ...patch };
    if (patch.state && patch.state !== 'loading') delete this.status.progress;
    this.send(this.status);
  }

  /**
   * A different backend or model is being started: what was measured on the previous one (the last
   * completion's latency) no longer describes it, so it is dropped rather than shown beside the new name.
   */
  switchTo(patch: Partial<StatusParams>): void {
    delete this.status.lastLatencyMs;
    this.set(patch);
  }

  /** Generating or idle again; only a working backend moves between the two (never out of error or disabled). */
  busy(busy: boolean): void {
    if (this.status.state === 'ready' || this.status.state === 'generating') this.set({ state: busy ? 'generating' : 'ready' });
  }
}
