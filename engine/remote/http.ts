/**
 * The HTTP layer every remote adapter uses: node:http(s) rather than fetch, because we need
 * control that Node 20's fetch does not expose without undici internals: a connect timeout
 * distinct from the first-token timeout, our own CA list, and a guarantee that cancelling
 * destroys the socket (so the server sees the client go and stops generating).
 *
 * Retries: only 429 and 503, with exponential backoff or the server's Retry-After. Anything
 * else fails at once with a NeoxError naming the URL and the server's own message.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import { createParser } from 'eventsource-parser';
import { NeoxError } from '../types';

export interface HttpClientOptions {
  apiKey?: string;
  connectTimeoutMs: number;
  firstTokenTimeoutMs: number;
  idleTimeoutMs: number;
  maxRetries: number;
  retryBaseMs: number;
  maxRetryDelayMs: number;
  /** Trusted CAs for https (computed lazily: reading the system store costs a few ms). */
  ca?: () => string[];
}

/** Thrown (internally) when the caller's signal aborts; adapters turn it into finishReason 'cancelled'. */
export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

const MAX_JSON_BYTES = 32 * 1024 * 1024;

/** One attempt's lifetime: links the caller's signal and the timers to a single AbortController. */
class Attempt {
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

export interface CallOptions {
  /** Overrides the first-token timeout for this call (health checks use a short one). */
  timeoutMs?: number;
  /** Overrides maxRetries (health checks do not retry). */
  retries?: number;
}

export class HttpClient {
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private httpsAgent?: https.Agent;

  constructor(private readonly opts: HttpClientOptions) {}

  /** GET or POST with a JSON answer. The first-token timeout bounds the whole exchange. */
  async json<T>(method: 'GET' | 'POST', url: URL, body?: unknown, signal?: AbortSignal, opts: CallOptions = {}): Promise<T> {
    const text = await this.text(method, url, body, signal, opts);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new NeoxError(`${url.href} answered with invalid JSON: ${preview(text)}`, 'bad_response');
    }
  }

  /** GET or POST; resolves with the body of a 2xx answer. */
  async text(method: 'GET' | 'POST', url: URL, body?: unknown, signal?: AbortSignal, opts: CallOptions = {}): Promise<string> {
    return this.withRetries(url, signal, opts.retries ?? this.opts.maxRetries, async (attempt) => {
      const limit = opts.timeoutMs ?? this.opts.firstTokenTimeoutMs;
      attempt.arm(limit, () => new NeoxError(`No answer from ${url.href} within ${limit} ms`, 'timeout'));
      const res = await this.request(method, url, body, attempt, 'application/json');
      return readBody(res, url, attempt);
    });
  }

  /**
   * POST expecting a Server-Sent-Events answer. `onData` gets each event's data (in order, whole
   * events only, however the bytes were split across TCP chunks) and returns true on the
   * terminal event. Resolves once the stream ended; `ended` says whether the terminal event came.
   */
  async sse(url: URL, body: unknown, signal: AbortSignal | undefined, onData: (data: string) => boolean): Promise<{ ended: boolean }> {
    return this.withRetries(url, signal, this.opts.maxRetries, async (attempt) => {
      const first = this.opts.firstTokenTimeoutMs;
      attempt.arm(first, () => new NeoxError(`${url.href} sent no token within ${first} ms`, 'first_token_timeout'));
      const res = await this.request('POST', url, body, attempt, 'text/event-stream');
      const type = String(res.headers['content-type'] ?? '');
      if (!type.includes('text/event-stream')) {
        const text = await readBody(res, url, attempt);
        throw new NeoxError(`${url.href} did not stream (content-type "${type}"): ${preview(text)}`, 'bad_response');
      }
      let ended = false;
      let failure: unknown;
      let events = 0;
      const idle = this.opts.idleTimeoutMs;
      const parser = createParser({
        onEvent: (ev) => {
          if (ended || failure) return;
          events++;
          try {
            ended = onData(ev.data);
          } catch (e) {
            failure = e;
          }
          if (failure) attempt.ac.abort(failure);
          // After the terminal event only the end of the response is awaited; a server that
          // keeps the connection open gets one second, then the socket is dropped.
          else if (ended) attempt.arm(1000, () => new NeoxError('done', 'done'));
          else attempt.arm(idle, () => new NeoxError(`${url.href} stalled: no data for ${idle} ms after ${events} events`, 'stream_timeout'));
        },
      });
      const decoder = new TextDecoder('utf-8');
      try {
        for await (const chunk of res) parser.feed(decoder.decode(chunk as Buffer, { stream: true }));
        parser.feed(decoder.decode());
      } catch (e) {
        if (!ended) throw failure ?? mapError(e, url, attempt, events);
      }
      if (failure) throw failure;
      return { ended };
    });
  }

  dispose(): void {
    this.httpAgent.destroy();
    this.httpsAgent?.destroy();
  }

  private async withRetries<T>(url: URL, signal: AbortSignal | undefined, maxRetries: number, run: (a: Attempt) => Promise<T>): Promise<T> {
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
        const delay = e.retryAfterMs ?? this.opts.retryBaseMs * 2 ** retry;
        if (retry >= maxRetries) {
          throw new NeoxError(`${e.message} (gave up after ${retry} retries)`, e.status === 429 ? 'rate_limited' : 'unavailable');
        }
        if (delay > this.opts.maxRetryDelayMs) {
          throw new NeoxError(`${e.message}; it asks to retry after ${Math.round(delay / 1000)} s, longer than ${this.opts.maxRetryDelayMs} ms`, 'unavailable');
        }
        await sleep(delay, signal);
      } finally {
        attempt.close();
      }
    }
  }

  private agentFor(url: URL): http.Agent {
    if (url.protocol === 'http:') return this.httpAgent;
    this.httpsAgent ??= new https.Agent({ keepAlive: true, ca: this.opts.ca?.() });
    return this.httpsAgent;
  }

  /** Send one request; resolves with a 2xx response, throws NeoxError (or RetryableStatus) otherwise. */
  private request(method: string, url: URL, body: unknown, attempt: Attempt, accept: string): Promise<http.IncomingMessage> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept, 'user-agent': 'neox-complete' };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    if (this.opts.apiKey) headers.authorization = `Bearer ${this.opts.apiKey}`;
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise<http.IncomingMessage>((resolve, reject) => {
      if (attempt.ac.signal.aborted) return reject(mapError(attempt.ac.signal.reason, url, attempt, 0));
      const req = mod.request(url, { method, headers, agent: this.agentFor(url) });
      let connectTimer: NodeJS.Timeout | undefined;
      const onAbort = () => {
        // destroy() closes the socket: a streaming server sees the disconnect and stops.
        req.destroy(attempt.ac.signal.reason as Error);
      };
      attempt.ac.signal.addEventListener('abort', onAbort, { once: true });
      let reused = false;
      req.on('socket', (socket: Socket) => {
        reused = !socket.connecting;
        if (reused) return; // a kept-alive socket: already connected
        const ms = this.opts.connectTimeoutMs;
        connectTimer = setTimeout(() => {
          req.destroy(new NeoxError(`Could not connect to ${url.origin} within ${ms} ms (server down or unreachable?)`, 'connect_timeout'));
        }, ms);
        socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
      });
      req.on('error', (e) => {
        clearTimeout(connectTimer);
        const code = (e as NodeJS.ErrnoException).code;
        const stale = reused && !attempt.ac.signal.aborted && (code === 'ECONNRESET' || code === 'EPIPE');
        reject(stale ? new StaleSocket(mapError(e, url, attempt, 0)) : mapError(e, url, attempt, 0));
      });
      req.on('response', (res) => {
        clearTimeout(connectTimer);
        // Keep the abort wired to the response too: destroying it mid-stream closes the socket.
        attempt.ac.signal.addEventListener('abort', () => res.destroy(attempt.ac.signal.reason as Error), { once: true });
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) return resolve(res);
        readBody(res, url, attempt).then(
          (text) => reject(statusError(status, res, text, url)),
          (e) => reject(e),
        );
      });
      req.end(payload);
    });
  }
}

/** The server closed a kept-alive connection just as we reused it (before any answer). */
class StaleSocket extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message);
  }
}

class RetryableStatus extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

function statusError(status: number, res: http.IncomingMessage, text: string, url: URL): Error {
  const what = `${url.href} answered ${status} ${res.statusMessage ?? ''}`.trimEnd();
  const msg = serverMessage(text);
  const full = msg ? `${what}: ${msg}` : what;
  if (status === 429 || status === 503) return new RetryableStatus(full, status, parseRetryAfter(res.headers['retry-after']));
  if (status === 401 || status === 403) {
    return new NeoxError(`${full} (check the API key: command "NeoX Complete: Set API key")`, 'unauthorized');
  }
  return new NeoxError(full, `http_${status}`);
}

/** The error text servers put in their bodies: OpenAI/vLLM {error:{message}}, vLLM {message}, TGI {error}, FastAPI {detail}. */
export function serverMessage(text: string): string {
  try {
    const j = JSON.parse(text) as Record<string, unknown>;
    const e = j.error;
    if (e && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string') return (e as { message: string }).message;
    if (typeof e === 'string') return e;
    if (typeof j.message === 'string') return j.message;
    if (typeof j.detail === 'string') return j.detail;
  } catch {
    // not JSON: show the text itself
  }
  return preview(text);
}

/** Retry-After is either delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(h: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(h) ? h[0] : h;
  if (!v) return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

function preview(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}

async function readBody(res: http.IncomingMessage, url: URL, attempt: Attempt): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res) {
      size += (chunk as Buffer).length;
      if (size > MAX_JSON_BYTES) {
        res.destroy();
        throw new NeoxError(`${url.href} answered more than ${MAX_JSON_BYTES} bytes`, 'bad_response');
      }
      parts.push(chunk as Buffer);
    }
  } catch (e) {
    throw mapError(e, url, attempt, 0);
  }
  return Buffer.concat(parts).toString('utf8');
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Turn a socket/abort error into one actionable NeoxError naming the URL. */
function mapError(e: unknown, url: URL, attempt: Attempt, events: number): Error {
  // An abort carries its reason (cancel, or one of our timeouts); prefer it over the socket's echo.
  const reason = attempt.ac.signal.aborted ? attempt.ac.signal.reason : undefined;
  if (reason instanceof CancelledError || reason instanceof NeoxError) return reason;
  if (e instanceof NeoxError || e instanceof CancelledError || e instanceof RetryableStatus || e instanceof StaleSocket) return e;
  const err = e as NodeJS.ErrnoException;
  const code = err?.code ?? '';
  if (code === 'ECONNREFUSED') return new NeoxError(`Connection refused by ${url.origin}: is the server running and the port right?`, 'connection_refused');
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new NeoxError(`Host of ${url.origin} not found (DNS): check neoxComplete.remoteUrl`, 'host_not_found');
  if (TLS_CODES.has(code)) {
    return new NeoxError(
      `TLS certificate of ${url.origin} is not trusted (${code}): add its CA to the system store, NODE_EXTRA_CA_CERTS or the CA file setting`,
      'tls',
    );
  }
  if (code === 'ECONNRESET' || err?.message === 'aborted' || code === 'ERR_STREAM_PREMATURE_CLOSE') {
    return events > 0
      ? new NeoxError(`Stream from ${url.href} was cut off after ${events} events`, 'stream_cut')
      : new NeoxError(`${url.origin} closed the connection before answering`, 'connection_reset');
  }
  return new NeoxError(`Request to ${url.href} failed: ${err?.message ?? String(e)}`, code || 'request_failed');
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
