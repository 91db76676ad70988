/**
 * `neox serve`: any CompletionBackend (normally the local engine) behind an OpenAI-compatible
 * HTTP API, so one team machine can serve several editors:
 *   GET /v1/models, POST /v1/completions, POST /v1/chat/completions (stream or not), GET /health.
 * Bearer-key auth when a key is set (401), bounded queue (429), body size limit (413), the
 * generation is aborted when its client disconnects, and close() drains gracefully.
 * node:http is enough here: four routes, no middleware.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { NeoxError, type CompletionBackend, type CompletionResult, type ModelInfo, type TextChunk } from '../types';
import { Admission } from './admission';
import { errorBody, HttpError, parseCommon, parseMessages, parsePrompt, usageBody, wireFinish, type ParsedCommon } from './wire';

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

export interface RequestRecord {
  id: string;
  method: string;
  path: string;
  status: number;
  stream: boolean;
  /** For generations: how it ended ('cancelled' when the client left). */
  finishReason?: string;
  completionTokens?: number;
  maxTokens?: number;
  ms: number;
  error?: string;
}

export interface ServeStats {
  requests: number;
  completed: number;
  cancelled: number;
  rejectedQueueFull: number;
  rejectedAuth: number;
  rejectedTooLarge: number;
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

export function formatRecord(r: RequestRecord): string {
  const gen = r.finishReason ? ` finish=${r.finishReason} tokens=${r.completionTokens ?? 0}/${r.maxTokens ?? '?'}` : '';
  return `${r.method} ${r.path} ${r.status}${r.stream ? ' stream' : ''}${gen} ${Math.round(r.ms)}ms${r.error ? ` error="${r.error}"` : ''}`;
}

export async function startServe(backend: CompletionBackend, opts: ServeOptions = {}): Promise<ServeHandle> {
  const loaded = await backend.load();
  const model: ModelInfo = { ...loaded, id: opts.modelName ?? loaded.id };
  const admission = new Admission(opts.concurrency ?? 1, opts.maxQueue ?? 16);
  const maxBody = opts.maxBodyBytes ?? 1024 * 1024;
  const keyHash = opts.apiKey ? sha256(opts.apiKey) : undefined;
  const stats = { requests: 0, completed: 0, cancelled: 0, rejectedQueueFull: 0, rejectedAuth: 0, rejectedTooLarge: 0 };
  const inflight = new Set<{ abort: AbortController; done: Promise<void> }>();
  let closing = false;

  const server = http.createServer((req, res) => {
    const gone = new AbortController();
    // 'close' before the response finished = the client went away: stop its generation.
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    const entry = { abort: gone, done: Promise.resolve() };
    entry.done = handle(req, res, gone.signal).finally(() => inflight.delete(entry));
    inflight.add(entry);
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, gone: AbortSignal): Promise<void> {
    stats.requests++;
    const t0 = performance.now();
    const path = (req.url ?? '/').split('?')[0];
    const rec: RequestRecord = { id: randomUUID().replace(/-/g, '').slice(0, 24), method: req.method ?? '?', path, status: 200, stream: false, ms: 0 };
    try {
      if (closing) throw new HttpError(503, 'server is shutting down', 'unavailable');
      // Open (no key): load balancers and monitors poll it; it reveals only load figures.
      if (path === '/health' && req.method === 'GET') {
        return sendJson(res, 200, { status: 'ok', model: model.id, running: admission.running, queued: admission.queued, maxQueue: admission.maxQueue });
      }
      if (!path.startsWith('/v1/')) throw new HttpError(404, `no route ${req.method} ${path}`, 'not_found');
      if (keyHash && !authorized(req.headers.authorization, keyHash)) {
        stats.rejectedAuth++;
        throw new HttpError(401, 'missing or wrong API key (send "Authorization: Bearer <key>")', 'authentication_error');
      }
      if (path === '/v1/models' && req.method === 'GET') return sendJson(res, 200, modelsBody(model));
      const kind = path === '/v1/completions' ? 'completion' : path === '/v1/chat/completions' ? 'chat' : undefined;
      if (!kind) throw new HttpError(404, `no route ${req.method} ${path}`, 'not_found');
      if (req.method !== 'POST') throw new HttpError(405, `${path} takes POST`, 'invalid_request_error');
      const body = await readJson(req, maxBody, () => stats.rejectedTooLarge++);
      const common = parseCommon(body, model.contextLength);
      if (common.model && common.model !== model.id) {
        throw new HttpError(404, `The model \`${common.model}\` does not exist (this server serves \`${model.id}\`).`, 'NotFoundError', 'model');
      }
      const prompt = kind === 'completion' ? parsePrompt(body) : undefined;
      const messages = kind === 'chat' ? parseMessages(body) : undefined;
      rec.stream = common.stream;
      rec.maxTokens = common.maxTokens;

      const slot = admission.enter(gone);
      if (!slot) {
        stats.rejectedQueueFull++;
        res.setHeader('retry-after', '1');
        throw new HttpError(429, `server busy: ${admission.running} running and ${admission.queued} queued (limit ${admission.maxQueue})`, 'rate_limit_error');
      }
      let release: () => void;
      try {
        release = await slot;
      } catch {
        rec.finishReason = 'cancelled';
        stats.cancelled++;
        return; // the client left while queued
      }
      try {
        const result = await generate(kind, prompt, messages, common, res, gone, rec);
        if (gone.aborted && closing && !res.destroyed) {
          stats.cancelled++;
          rec.finishReason = 'cancelled';
          rec.completionTokens = result.usage.completionTokens;
          // Aborted by shutdown, not by the client: tell it why instead of just dropping it.
          throw new HttpError(503, 'server shut down before the generation finished', 'unavailable');
        }
        rec.finishReason = gone.aborted ? 'cancelled' : result.choices.map((c) => c.finishReason).join(',');
        rec.completionTokens = result.usage.completionTokens;
        if (gone.aborted) stats.cancelled++;
        else stats.completed++;
      } finally {
        release();
      }
    } catch (e) {
      const err = toHttpError(e);
      rec.status = err.status;
      rec.error = err.message;
      if (!res.headersSent) {
        // The unread rest of a too-large body is not worth receiving: close after answering.
        if (err.status === 413) res.setHeader('connection', 'close');
        sendJson(res, err.status, errorBody(err));
      }
      else if (!res.writableEnded) {
        // Mid-stream: an error event (no [DONE]) so the client cannot mistake it for success.
        res.end(`data: ${JSON.stringify(errorBody(err))}\n\n`);
      }
    } finally {
      rec.ms = performance.now() - t0;
      opts.onRequest?.(rec);
    }
  }

  async function generate(
    kind: 'completion' | 'chat',
    prompt: string | undefined,
    messages: ReturnType<typeof parseMessages> | undefined,
    o: ParsedCommon,
    res: http.ServerResponse,
    signal: AbortSignal,
    rec: RequestRecord,
  ): Promise<CompletionResult> {
    const id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${rec.id}`;
    const created = Math.floor(Date.now() / 1000);
    const object = kind === 'chat' ? (o.stream ? 'chat.completion.chunk' : 'chat.completion') : 'text_completion';
    const head = { id, object, created, model: model.id };
    const n = o.n ?? 1;
    const decoding = { ...o, signal };
    let onChunk: ((c: TextChunk) => void) | undefined;
    if (o.stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: closing ? 'close' : 'keep-alive' });
      const send = (obj: object) => res.write(`data: ${JSON.stringify(obj)}\n\n`);
      if (kind === 'chat') {
        for (let i = 0; i < n; i++) send({ ...head, choices: [{ index: i, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] });
      }
      onChunk = (c) =>
        send({
          ...head,
          choices: [kind === 'chat' ? { index: c.index, delta: { content: c.text }, logprobs: null, finish_reason: null } : { index: c.index, text: c.text, logprobs: null, finish_reason: null, stop_reason: null }],
        });
      const result = kind === 'chat' ? await backend.chat({ ...decoding, messages: messages! }, onChunk) : await backend.complete({ ...decoding, prompt: prompt! }, onChunk);
      if (signal.aborted) return result;
      for (const c of result.choices) {
        const f = wireFinish(c.finishReason);
        send({ ...head, choices: [kind === 'chat' ? { index: c.index, delta: {}, logprobs: null, finish_reason: f.finish_reason, stop_reason: f.stop_reason } : { index: c.index, text: '', logprobs: null, ...f }] });
      }
      if (o.includeUsage) send({ ...head, choices: [], usage: usageBody(result) });
      res.end('data: [DONE]\n\n');
      return result;
    }
    const result = kind === 'chat' ? await backend.chat({ ...decoding, messages: messages! }) : await backend.complete({ ...decoding, prompt: prompt! });
    if (signal.aborted) return result;
    sendJson(res, 200, {
      ...head,
      choices: result.choices.map((c) =>
        kind === 'chat'
          ? { index: c.index, message: { role: 'assistant', content: c.text }, logprobs: null, ...wireFinish(c.finishReason) }
          : { index: c.index, text: c.text, logprobs: null, ...wireFinish(c.finishReason) },
      ),
      usage: usageBody(result),
    });
    return result;
  }

  function sendJson(res: http.ServerResponse, status: number, body: object): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...(closing ? { connection: 'close' } : {}) });
    res.end(text);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new NeoxError(`neox serve: cannot listen on ${opts.host ?? '127.0.0.1'}:${opts.port ?? 8080}: ${e.code === 'EADDRINUSE' ? 'the port is in use (pick another with --port)' : e.message}`, 'listen_failed')),
    );
    server.listen(opts.port ?? 8080, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const hostForUrl = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;

  let closed: Promise<void> | undefined;
  return {
    url: `http://${hostForUrl}:${addr.port}`,
    port: addr.port,
    model,
    stats: () => ({ ...stats, running: admission.running, queued: admission.queued }),
    close() {
      closed ??= (async () => {
        closing = true;
        const stopped = new Promise<void>((r) => server.close(() => r()));
        server.closeIdleConnections();
        const drained = Promise.all([...inflight].map((x) => x.done));
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), opts.shutdownGraceMs ?? 10000)));
        if ((await Promise.race([drained, grace])) === 'timeout') {
          for (const x of inflight) x.abort.abort();
          await drained;
        }
        clearTimeout(timer);
        server.closeAllConnections();
        await stopped;
      })();
      return closed;
    },
  };
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Constant-time comparison of the bearer token (hashing first makes the lengths equal). */
function authorized(header: string | undefined, keyHash: Buffer): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  return !!m && timingSafeEqual(sha256(m[1].trim()), keyHash);
}

function modelsBody(m: ModelInfo): object {
  return {
    object: 'list',
    data: [{ id: m.id, object: 'model', created: 0, owned_by: 'neox-complete', root: m.id, parent: null, max_model_len: m.contextLength }],
  };
}

async function readJson(req: http.IncomingMessage, limit: number, onTooLarge: () => void): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length'] ?? 0);
  const tooLarge = () => {
    onTooLarge();
    return new HttpError(413, `request body is larger than ${limit} bytes`, 'invalid_request_error');
  };
  if (declared > limit) throw tooLarge();
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge();
    parts.push(chunk as Buffer);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'request body must be a JSON object');
  return body as Record<string, unknown>;
}

function toHttpError(e: unknown): HttpError {
  if (e instanceof HttpError) return e;
  if (e instanceof NeoxError) {
    const client = e.code === 'bad_request' || e.code === 'prompt_too_long' || e.code === 'unsupported';
    return new HttpError(client ? 400 : 500, e.message, client ? 'invalid_request_error' : 'internal_error');
  }
  return new HttpError(500, `internal error: ${(e as Error)?.message ?? String(e)}`, 'internal_error');
}
