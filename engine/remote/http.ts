/**
 * The HTTP layer every remote adapter uses: node:http(s) rather than fetch, because we need
 * control that Node 20's fetch does not expose without undici internals: a connect timeout
 * distinct from the first-token timeout, our own CA list, and a guarantee that cancelling
 * destroys the socket (so the server sees the client go and stops generating).
 *
 * Retries (http-retry.ts): only 429 and 503. Anything else fails at once with a NeoxError naming
 * the URL and the server's own message (http-errors.ts).
 */
import { redactUrl } from '../redact';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import { NeoxError } from '../types';
import { mapError, preview, StaleSocket, statusError } from './http-errors';
import { withRetries, type Attempt } from './http-retry';
import { readEvents } from './http-sse';

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
      throw new NeoxError(`${redactUrl(url)} answered with invalid JSON: ${preview(text)}`, 'bad_response');
    }
  }

  /** GET or POST; resolves with the body of a 2xx answer. */
  async text(method: 'GET' | 'POST', url: URL, body?: unknown, signal?: AbortSignal, opts: CallOptions = {}): Promise<string> {
    return withRetries(signal, { ...this.opts, maxRetries: opts.retries ?? this.opts.maxRetries }, async (attempt) => {
      const limit = opts.timeoutMs ?? this.opts.firstTokenTimeoutMs;
      attempt.arm(limit, () => new NeoxError(`No answer from ${redactUrl(url)} within ${limit} ms`, 'timeout'));
      const res = await this.request(method, url, body, attempt, 'application/json');
      return readBody(res, url, attempt);
    });
  }

  /** POST expecting a Server-Sent-Events answer, whose events go to `onData` (see readEvents, http-sse.ts). */
  async sse(url: URL, body: unknown, signal: AbortSignal | undefined, onData: (data: string) => boolean): Promise<{ ended: boolean }> {
    return withRetries(signal, this.opts, async (attempt) => {
      const first = this.opts.firstTokenTimeoutMs;
      attempt.arm(first, () => new NeoxError(`${redactUrl(url)} sent no token within ${first} ms`, 'first_token_timeout'));
      const res = await this.request('POST', url, body, attempt, 'text/event-stream');
      const type = String(res.headers['content-type'] ?? '');
      if (!type.includes('text/event-stream')) {
        const text = await readBody(res, url, attempt);
        throw new NeoxError(`${redactUrl(url)} did not stream (content-type "${type}"): ${preview(text)}`, 'bad_response');
      }
      return readEvents(res, url, attempt, this.opts.idleTimeoutMs, onData);
    });
  }

  dispose(): void {
    this.httpAgent.destroy();
    this.httpsAgent?.destroy();
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
      if (attempt.ac.signal.aborted) return reject(mapError(attempt.ac.signal.reason, url, attempt.ac.signal, 0));
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
        reject(stale ? new StaleSocket(mapError(e, url, attempt.ac.signal, 0)) : mapError(e, url, attempt.ac.signal, 0));
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

const MAX_JSON_BYTES = 32 * 1024 * 1024;

async function readBody(res: http.IncomingMessage, url: URL, attempt: Attempt): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res) {
      size += (chunk as Buffer).length;
      if (size > MAX_JSON_BYTES) {
        res.destroy();
        throw new NeoxError(`${redactUrl(url)} answered more than ${MAX_JSON_BYTES} bytes`, 'bad_response');
      }
      parts.push(chunk as Buffer);
    }
  } catch (e) {
    throw mapError(e, url, attempt.ac.signal, 0);
  }
  return Buffer.concat(parts).toString('utf8');
}
