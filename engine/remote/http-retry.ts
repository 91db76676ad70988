/**
 * Attempts and retries of one remote call. Only 429 and 503 are retried, with exponential backoff
 * or the server's Retry-After; a kept-alive socket the server had just closed is resent once.
 */
import { NeoxError } from '../types';
import { CancelledError, RetryableStatus, StaleSocket } from './http-errors';

/** One attempt's lifetime: links the caller's signal and the timers to a single AbortController. */
export class Attempt {
  readonly ac = new AbortController();
  private timer?: NodeJS.Timeout;
  private readonly onUserAbort = () => this.ac.abort(new CancelledError());
  constructor(private readonly user?: AbortSignal) {
    if (user?.aborted) this.ac.abort(new CancelledError());
    user?.addEventListener('abort', this.onUserAbort, { once: true });
  }
  /** (Re)arm the single deadline: when it fires, the attempt fails with `error()`. */
  arm(ms: number, error: () => NeoxError): void {
    this.disarm();
    if (ms > 0) this.timer = setTimeout(() => this.ac.abort(error()), ms);
  }
  disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
  close(): void {
    this.disarm();
    this.user?.removeEventListener('abort', this.onUserAbort);
  }
}

export interface RetryPolicy {
  maxRetries: number;
  retryBaseMs: number;
  maxRetryDelayMs: number;
}

/** Runs `run` with a fresh Attempt until it succeeds, fails for good, or the retries are spent. */
export async function withRetries<T>(signal: AbortSignal | undefined, policy: RetryPolicy, run: (a: Attempt) => Promise<T>): Promise<T> {
  let staleRetried = false;
  for (let retry = 0; ; retry++) {
    const attempt = new Attempt(signal);
    try {
      return await run(attempt);
    } catch (e) {
      if (e instanceof StaleSocket) {
        // A kept-alive connection the server had just closed: resend once on a fresh one.
        if (staleRetried) throw e.cause;
        staleRetried = true;
        retry--;
        continue;
      }
      if (!(e instanceof RetryableStatus)) throw e;
      await sleep(retryDelay(e, retry, policy), signal);
    } finally {
      attempt.close();
    }
  }
}

/** How long to wait before retry number `retry + 1`; throws when there is to be none. */
function retryDelay(e: RetryableStatus, retry: number, policy: RetryPolicy): number {
  const delay = e.retryAfterMs ?? policy.retryBaseMs * 2 ** retry;
  if (retry >= policy.maxRetries) {
    throw new NeoxError(`${e.message} (gave up after ${retry} retries)`, e.status === 429 ? 'rate_limited' : 'unavailable');
  }
  if (delay > policy.maxRetryDelayMs) {
    throw new NeoxError(`${e.message}; it asks to retry after ${Math.round(delay / 1000)} s, longer than ${policy.maxRetryDelayMs} ms`, 'unavailable');
  }
  return delay;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new CancelledError());
    const onAbort = () => {
      clearTimeout(t);
      reject(new CancelledError());
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
