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

  /** Generating or idle again; only a working backend moves between the two (never out of error or disabled). */
  busy(busy: boolean): void {
    if (this.status.state === 'ready' || this.status.state === 'generating') this.set({ state: busy ? 'generating' : 'ready' });
  }
}
