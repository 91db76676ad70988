/**
 * Bounded admission for `neox serve`, by count and by cost: at most `concurrency` requests run on the
 * backend and at most `maxQueue` wait, and the work they may still demand (prompt + generated
 * tokens, see routes.ts requestCost) stays within `maxTokensInFlight`; with several API keys each key
 * also has its own share of requests and tokens. A request past any limit is refused (429, with the
 * limit named) at once rather than piling up latency for every editor sharing the server. A waiting
 * request whose client leaves gives up its place and its tokens.
 */
/** Why a queued request was let go without running: the server is shutting down (not the client leaving). */
export class ShuttingDown extends Error {
  constructor() {
    super('server is shutting down');
  }
}

export interface AdmissionLimits {
  /** Requests handed to the backend at once. */
  concurrency: number;
  /** Requests allowed to wait. */
  maxQueue: number;
  /** Prompt + generated tokens of all running and waiting requests. */
  maxTokensInFlight: number;
  /** Each API key's share, when several keys are configured. */
  perKey?: { requests: number; tokens: number };
}

/** What a request asks for: its tokens of work, and which API key sent it (its index) when there are several. */
export interface Cost {
  tokens: number;
  key?: number;
}

/** A request refused at the door: `refused` names the limit it would pass in words, `limit` which kind. */
export interface Refusal {
  refused: string;
  limit: 'queue' | 'tokens' | 'key';
}

interface Usage {
  requests: number;
  tokens: number;
}

export class Admission {
  private active = 0;
  private tokens = 0;
  private readonly byKey = new Map<number, Usage>();
  private readonly waiting: { grant: () => void; signal: AbortSignal; onAbort: () => void; refuse: () => void }[] = [];

  constructor(readonly limits: AdmissionLimits) {}

  get running(): number {
    return this.active;
  }
  get queued(): number {
    return this.waiting.length;
  }
  get maxQueue(): number {
    return this.limits.maxQueue;
  }
  /** Tokens of work of the running and waiting requests. */
  get tokensInFlight(): number {
    return this.tokens;
  }

  /**
   * A slot, or a Refusal naming the limit the request would pass. The promise resolves with a release
   * function once the request may run, and rejects if `signal` aborts while it waits.
   */
  enter(signal: AbortSignal, cost: Cost = { tokens: 0 }): Promise<() => void> | Refusal {
    const refused = this.refusal(cost);
    if (refused) return refused;
    this.charge(cost, 1);
    if (this.active < this.limits.concurrency) {
      this.active++;
      return Promise.resolve(this.releaser(cost));
    }
    return new Promise((resolve, reject) => {
      const entry = {
        signal,
        grant: () => resolve(this.releaser(cost)),
        onAbort: () => {
          const i = this.waiting.indexOf(entry);
          if (i >= 0) this.waiting.splice(i, 1);
          this.charge(cost, -1);
          reject(new Error('client left while queued'));
        },
        refuse: () => {
          signal.removeEventListener('abort', entry.onAbort);
          this.charge(cost, -1);
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

  /**
   * The limit `cost` would pass, in words. A token limit never refuses a request when nothing of its
   * kind is in flight, so a request the per-request limit lets through can always run eventually.
   */
  private refusal(cost: Cost): Refusal | undefined {
    const { perKey, maxTokensInFlight, concurrency, maxQueue } = this.limits;
    if (perKey && cost.key !== undefined) {
      const k = this.byKey.get(cost.key) ?? { requests: 0, tokens: 0 };
      if (k.requests >= perKey.requests) {
        return { limit: 'key', refused: `this API key has ${k.requests} requests running or queued (limit ${perKey.requests} per key, --key-max-requests)` };
      }
      if (k.tokens > 0 && k.tokens + cost.tokens > perKey.tokens) {
        return { limit: 'key', refused: `this API key has ${k.tokens} tokens of work running or queued; this request's ${cost.tokens} would pass its limit of ${perKey.tokens} (--key-max-tokens)` };
      }
    }
    if (this.tokens > 0 && this.tokens + cost.tokens > maxTokensInFlight) {
      return { limit: 'tokens', refused: `server busy: ${this.tokens} tokens of work running or queued; this request's ${cost.tokens} would pass the limit of ${maxTokensInFlight} (--max-tokens-in-flight)` };
    }
    if (this.active >= concurrency && this.waiting.length >= maxQueue) {
      return { limit: 'queue', refused: `server busy: ${this.active} running and ${this.waiting.length} queued (limit ${maxQueue}, --max-queue)` };
    }
    return undefined;
  }

  private charge(cost: Cost, sign: 1 | -1): void {
    this.tokens += sign * cost.tokens;
    if (cost.key === undefined) return;
    const k = this.byKey.get(cost.key) ?? { requests: 0, tokens: 0 };
    k.requests += sign;
    k.tokens += sign * cost.tokens;
    if (k.requests === 0) this.byKey.delete(cost.key);
    else this.byKey.set(cost.key, k);
  }

  private releaser(cost: Cost): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.charge(cost, -1);
      const next = this.waiting.shift();
      if (next) {
        next.signal.removeEventListener('abort', next.onAbort);
        next.grant(); // the slot passes straight to the next request
      } else this.active--;
    };
  }
}
