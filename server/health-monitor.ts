/**
 * Polls a ready backend's health() so the status follows a server that stops answering (or
 * comes back) without waiting for the next completion: every `pollMs` while healthy, and while
 * failing after `backoffMs`, doubling up to `maxBackoffMs`. Only changes are reported.
 */
import type { CompletionBackend } from '../engine/types';

export interface HealthTiming {
  pollMs: number;
  backoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_HEALTH_TIMING: HealthTiming = { pollMs: 5000, backoffMs: 1000, maxBackoffMs: 30_000 };

export interface HealthEvents {
  onFailing(reason: string): void;
  onHealthy(message: string | undefined): void;
}

export class HealthMonitor {
  private timer: NodeJS.Timeout | undefined;
  /** Bumped on every watch/stop: a check that finishes for an older backend reports nothing. */
  private epoch = 0;

  constructor(
    private readonly events: HealthEvents,
    private readonly timing: HealthTiming = DEFAULT_HEALTH_TIMING,
  ) {}

  /** Polls `backend` from now on (instead of any earlier one); it is healthy now. */
  watch(backend: CompletionBackend): void {
    this.stop();
    const epoch = this.epoch;
    let failures = 0;
    const check = async () => {
      const h = await backend.health().catch((e: Error) => ({ ok: false, message: e.message }));
      if (epoch !== this.epoch) return;
      if (h.ok && failures > 0) this.events.onHealthy(h.message);
      if (!h.ok && failures === 0) this.events.onFailing(h.message || 'health check failed');
      failures = h.ok ? 0 : failures + 1;
      schedule();
    };
    const schedule = () => {
      const delay = failures === 0 ? this.timing.pollMs : Math.min(this.timing.maxBackoffMs, this.timing.backoffMs * 2 ** (failures - 1));
      this.timer = setTimeout(() => void check(), delay);
      // A poll never keeps the process alive on its own.
      this.timer.unref();
    };
    schedule();
  }

  stop(): void {
    this.epoch++;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
