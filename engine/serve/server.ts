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
import type { AddressInfo, Socket } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { NeoxError, type CompletionBackend, type ModelInfo } from '../types';
import { Admission, type AdmissionLimits } from './admission';
import type { Counters, RequestRecord, ServeContext } from './context';
import { handleRequest, hostName, sha256 } from './routes';

export interface ServeOptions {
  host?: string;
  /** 0 = any free port. */
  port?: number;
  /** When set, /v1/* requires `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** More keys /v1/* accepts (with apiKey, if set). With several keys each has its own limits (keyMax*). */
  apiKeys?: string[];
  /** Requests handed to the backend at once (the local engine runs them as one continuous batch: `maxBatch`). Default 1. */
  concurrency?: number;
  /** Requests allowed to wait; one more gets 429. Default 16. */
  maxQueue?: number;
  /** Generated tokens (max_tokens x n) one request may ask for; more gets 400. Default 4 x the context length. */
  maxRequestTokens?: number;
  /** Prompt + generated tokens of all running and queued requests; a request past it gets 429. Default 8 x the context length. */
  maxTokensInFlight?: number;
  /** With several API keys: requests one key may have running or queued. Default its share of concurrency + maxQueue. */
  keyMaxRequests?: number;
  /** With several API keys: tokens one key may have in flight. Default its share of maxTokensInFlight. */
  keyMaxTokens?: number;
  /** Largest request body accepted. Default 1 MiB. */
  maxBodyBytes?: number;
  /** How long close() lets running requests finish before aborting them. Default 10000. */
  shutdownGraceMs?: number;
  /** The id clients send as "model" and see in /v1/models (default: the backend's model id). */
  modelName?: string;
  /**
   * Host header names accepted besides the loopback names (127.0.0.1, localhost, [::1]) and the bound
   * address (on 0.0.0.0/::, this machine's addresses and hostname); '*' = any. Others get 403.
   */
  allowedHosts?: string[];
  /** Origins (scheme://host[:port]) allowed to call from a browser, with CORS; '*' = any. Default none. */
  allowOrigins?: string[];
  /** A client that does not read its answer for this long is dropped. Default 30000. */
  writeTimeoutMs?: number;
  /** Time to receive a request's headers (server.headersTimeout), and a new connection's first request. Default 10000. */
  headersTimeoutMs?: number;
  /** Time to receive a whole request (server.requestTimeout). Default 60000. */
  requestTimeoutMs?: number;
  /** A connection with no request in flight and no traffic for this long is closed. Default 120000. */
  idleTimeoutMs?: number;
  /** Idle time between requests on a kept-alive connection (server.keepAliveTimeout). Default 5000. */
  keepAliveTimeoutMs?: number;
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
  const keys = [...new Set([...(opts.apiKey ? [opts.apiKey] : []), ...(opts.apiKeys ?? [])])];
  const ctx: ServeContext = {
    backend,
    model: { ...loaded, id: opts.modelName ?? loaded.id },
    admission: new Admission(admissionLimits(opts, loaded.contextLength, keys.length)),
    maxBodyBytes: opts.maxBodyBytes ?? 1024 * 1024,
    keyHashes: keys.map(sha256),
    maxRequestTokens: opts.maxRequestTokens ?? 4 * loaded.contextLength,
    counters: { requests: 0, completed: 0, cancelled: 0, rejectedQueueFull: 0, rejectedOverLimit: 0, rejectedAuth: 0, rejectedTooLarge: 0 },
    allowedHosts: allowedHostNames(opts),
    allowOrigins: new Set(opts.allowOrigins ?? []),
    maxPromptChars: loaded.contextLength * 8,
    writeTimeoutMs: opts.writeTimeoutMs ?? 30000,
    closing: false,
    onRequest: opts.onRequest,
  };
  const inflight = new Set<InFlight>();
  const headersTimeout = opts.headersTimeoutMs ?? 10000;
  const requestTimeout = opts.requestTimeoutMs ?? 60000;
  const idleTimeout = opts.idleTimeoutMs ?? 120000;
  // Node checks the header and request timeouts on this interval (default 30 s): keep it below them.
  const server = http.createServer({ connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(Math.min(headersTimeout, requestTimeout) / 2))) }, (req, res) => {
    const socket = req.socket;
    clearTimeout(silent.get(socket));
    busy.set(socket, (busy.get(socket) ?? 0) + 1);
    res.once('close', () => busy.set(socket, (busy.get(socket) ?? 1) - 1));
    const gone = new AbortController();
    // 'close' before the response finished = the client went away: stop its generation.
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    const entry: InFlight = { abort: gone, done: Promise.resolve() };
    entry.done = handleRequest(ctx, req, res, gone.signal)
      .then(() => flushed(res, ctx.writeTimeoutMs))
      .finally(() => inflight.delete(entry));
    inflight.add(entry);
  });
  server.headersTimeout = headersTimeout;
  server.requestTimeout = requestTimeout;
  server.keepAliveTimeout = opts.keepAliveTimeoutMs ?? 5000;
  // Idle sockets (connected, no request in flight) are closed; a queued or generating request is not idle.
  const busy = new WeakMap<Socket, number>();
  // Node arms server.timeout on every socket; it emits 'timeout' here instead of destroying the socket.
  server.timeout = idleTimeout;
  server.on('timeout', (socket: Socket) => {
    if (!busy.get(socket)) socket.destroy();
  });
  // Node's header timeout starts at a request's first byte, so a connection that never sends one would be
  // held until the idle timeout: it gets the header timeout from connecting to deliver its first request.
  const silent = new WeakMap<Socket, NodeJS.Timeout>();
  server.on('connection', (socket: Socket) => {
    const timer = setTimeout(() => socket.destroy(), headersTimeout);
    silent.set(socket, timer);
    socket.once('close', () => clearTimeout(timer));
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

/** The admission limits from the options; per-key shares only when there are several keys. */
function admissionLimits(opts: ServeOptions, contextLength: number, keys: number): AdmissionLimits {
  const concurrency = opts.concurrency ?? 1;
  const maxQueue = opts.maxQueue ?? 16;
  const maxTokensInFlight = opts.maxTokensInFlight ?? 8 * contextLength;
  if (keys < 2) return { concurrency, maxQueue, maxTokensInFlight };
  return {
    concurrency,
    maxQueue,
    maxTokensInFlight,
    perKey: { requests: opts.keyMaxRequests ?? Math.max(1, Math.ceil((concurrency + maxQueue) / keys)), tokens: opts.keyMaxTokens ?? Math.ceil(maxTokensInFlight / keys) },
  };
}

/** Waits until the answer reached the socket; a client that leaves it unread past `timeoutMs` is dropped. */
function flushed(res: http.ServerResponse, timeoutMs: number): Promise<void> {
  if (res.writableFinished || res.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => (res.destroy(), resolve()), timeoutMs);
    const done = () => (clearTimeout(timer), resolve());
    res.once('finish', done);
    res.once('close', done);
  });
}

/** The Host names this server answers to (see ServeOptions.allowedHosts). */
function allowedHostNames(opts: ServeOptions): Set<string> {
  const names = new Set(['127.0.0.1', 'localhost', '[::1]']);
  const bound = (opts.host ?? '127.0.0.1').toLowerCase();
  const bracket = (a: string) => (a.includes(':') && !a.startsWith('[') ? `[${a}]` : a);
  if (bound === '0.0.0.0' || bound === '::' || bound === '[::]') {
    // Every address of this machine, and its name: what team clients put in their URL.
    names.add(hostname().toLowerCase());
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) names.add(bracket(a.address.toLowerCase().split('%')[0]!));
  } else names.add(bracket(bound));
  for (const h of opts.allowedHosts ?? []) names.add(h === '*' ? '*' : hostName(h.split(':').length > 2 ? bracket(h.toLowerCase()) : h));
  return names;
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
  // Queued requests will not get a slot in time: 503 with Retry-After now, while running ones finish.
  ctx.admission.refuseWaiting();
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
