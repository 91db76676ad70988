/**
 * `neox serve`: any CompletionBackend (normally the local engine) behind an OpenAI-compatible
 * HTTP API, so one team machine can serve several editors:
 *   GET /v1/models, POST /v1/completions, POST /v1/chat/completions (stream or not), GET /health.
 * Bearer-key auth when a key is set (401), bounded queue (429), body size limit (413), the
 * generation is aborted when its client disconnects, and close() drains gracefully.
 * node:http is enough here: four routes (routes.ts), no middleware. This file is the lifecycle:
 * load, listen, close.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { NeoxError, type CompletionBackend, type ModelInfo } from '../types';
import { Admission } from './admission';
import type { Counters, RequestRecord, ServeContext } from './context';
import { handleRequest, sha256 } from './routes';

export interface ServeOptions {
  host?: string;
  /** 0 = any free port. */
  port?: number;
  /** When set, /v1/* requires `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Requests handed to the backend at once (the local engine batches those that wait: `maxBatch`). Default 1. */
  concurrency?: number;
  /** Requests allowed to wait; one more gets 429. Default 16. */
  maxQueue?: number;
  /** Largest request body accepted. Default 1 MiB. */
  maxBodyBytes?: number;
  /** How long close() lets running requests finish before aborting them. Default 10000. */
  shutdownGraceMs?: number;
  /** The id clients send as "model" and see in /v1/models (default: the backend's model id). */
  modelName?: string;
  /** One call per finished request (access log). */
  onRequest?: (r: RequestRecord) => void;
}

export interface ServeStats extends Counters {
  running: number;
  queued: number;
}

export interface ServeHandle {
  readonly url: string;
  readonly port: number;
  readonly model: ModelInfo;
  stats(): ServeStats;
  /** Stop accepting, let running requests finish (up to shutdownGraceMs), then abort the rest. */
  close(): Promise<void>;
}

/** A running request: close() waits for `done`, or aborts it after the grace period. */
interface InFlight {
  abort: AbortController;
  done: Promise<void>;
}

export async function startServe(backend: CompletionBackend, opts: ServeOptions = {}): Promise<ServeHandle> {
  const loaded = await backend.load();
  const ctx: ServeContext = {
    backend,
    model: { ...loaded, id: opts.modelName ?? loaded.id },
    admission: new Admission(opts.concurrency ?? 1, opts.maxQueue ?? 16),
    maxBodyBytes: opts.maxBodyBytes ?? 1024 * 1024,
    keyHash: opts.apiKey ? sha256(opts.apiKey) : undefined,
    counters: { requests: 0, completed: 0, cancelled: 0, rejectedQueueFull: 0, rejectedAuth: 0, rejectedTooLarge: 0 },
    closing: false,
    onRequest: opts.onRequest,
  };
  const inflight = new Set<InFlight>();
  const server = http.createServer((req, res) => {
    const gone = new AbortController();
    // 'close' before the response finished = the client went away: stop its generation.
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    const entry: InFlight = { abort: gone, done: Promise.resolve() };
    entry.done = handleRequest(ctx, req, res, gone.signal).finally(() => inflight.delete(entry));
    inflight.add(entry);
  });
  await listen(server, opts);
  const addr = server.address() as AddressInfo;
  const hostForUrl = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${hostForUrl}:${addr.port}`,
    port: addr.port,
    model: ctx.model,
    stats: () => ({ ...ctx.counters, running: ctx.admission.running, queued: ctx.admission.queued }),
    close() {
      closed ??= drainAndClose(server, ctx, inflight, opts.shutdownGraceMs ?? 10000);
      return closed;
    },
  };
}

function listen(server: http.Server, opts: ServeOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new NeoxError(`neox serve: cannot listen on ${opts.host ?? '127.0.0.1'}:${opts.port ?? 8080}: ${e.code === 'EADDRINUSE' ? 'the port is in use (pick another with --port)' : e.message}`, 'listen_failed')),
    );
    server.listen(opts.port ?? 8080, opts.host ?? '127.0.0.1', () => resolve());
  });
}

/** Stops accepting, lets running requests finish for up to `graceMs`, then aborts the rest. */
async function drainAndClose(server: http.Server, ctx: ServeContext, inflight: Set<InFlight>, graceMs: number): Promise<void> {
  ctx.closing = true;
  const stopped = new Promise<void>((r) => server.close(() => r()));
  server.closeIdleConnections();
  const drained = Promise.all([...inflight].map((x) => x.done));
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), graceMs)));
  if ((await Promise.race([drained, grace])) === 'timeout') {
    for (const x of inflight) x.abort.abort();
    await drained;
  }
  clearTimeout(timer);
  server.closeAllConnections();
  await stopped;
}
