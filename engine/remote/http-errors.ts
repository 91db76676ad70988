/**
 * The errors of the remote HTTP layer: the internal signals that drive retries (RetryableStatus,
 * StaleSocket) and cancellation (CancelledError), and the one actionable NeoxError naming the URL
 * that every other failure becomes.
 */
import type * as http from 'node:http';
import { redactUrl, redactUrlsIn } from '../redact';
import { NeoxError } from '../types';

/** Thrown (internally) when the caller's signal aborts; adapters turn it into finishReason 'cancelled'. */
export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

/** The server closed a kept-alive connection just as we reused it (before any answer). */
export class StaleSocket extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message);
  }
}

/** 429 or 503: worth another attempt after a delay (the server's Retry-After when it gives one). */
export class RetryableStatus extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** The error for a non-2xx answer whose body was `text`. */
export function statusError(status: number, res: http.IncomingMessage, text: string, url: URL): Error {
  const what = `${redactUrl(url)} answered ${status} ${res.statusMessage ?? ''}`.trimEnd();
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

/** A server's text shortened to one line for an error message. */
export function preview(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * Turn a socket/abort error into one actionable NeoxError naming the URL. `signal` is the attempt's:
 * `events` counts the stream events already received (a cut-off stream is told from a refused answer).
 */
export function mapError(e: unknown, url: URL, signal: AbortSignal, events: number): Error {
  // An abort carries its reason (cancel, or one of our timeouts); prefer it over the socket's echo.
  const reason = signal.aborted ? signal.reason : undefined;
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
      ? new NeoxError(`Stream from ${redactUrl(url)} was cut off after ${events} events`, 'stream_cut')
      : new NeoxError(`${url.origin} closed the connection before answering`, 'connection_reset');
  }
  return new NeoxError(`Request to ${redactUrl(url)} failed: ${redactUrlsIn(err?.message ?? String(e))}`, code || 'request_failed');
}
