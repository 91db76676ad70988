/**
 * The routes of `neox serve`: GET /health (open), and behind the API key GET /v1/models,
 * POST /v1/completions, POST /v1/chat/completions and POST /v1/embeddings (embeddings.ts), which
 * wait for an admission slot (429 when the queue is full). Every request ends in one access-log record.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type * as http from 'node:http';
import { NeoxError, type ModelInfo } from '../types';
import { ShuttingDown, type Cost } from './admission';
import { sendJson, type RequestRecord, type ServeContext } from './context';
import { parseEmbeddings, sendEmbeddings } from './embeddings';
import { generate, stalled, type GenerationRequest } from './generation';
import { errorBody, HttpError, parseCommon, parseMessages, parsePrompt } from './wire';

/** Answers one request; `gone` aborts when its client disconnects (or close() gives up waiting). */
export async function handleRequest(ctx: ServeContext, req: http.IncomingMessage, res: http.ServerResponse, gone: AbortSignal): Promise<void> {
  ctx.counters.requests++;
  const t0 = performance.now();
  const path = (req.url ?? '/').split('?')[0];
  const rec: RequestRecord = { id: randomUUID().replace(/-/g, '').slice(0, 24), method: req.method ?? '?', path, status: 200, stream: false, ms: 0 };
  try {
    await route(ctx, req, res, gone, rec);
  } catch (e) {
    sendError(ctx, res, toHttpError(e), rec);
  } finally {
    rec.ms = performance.now() - t0;
    ctx.onRequest?.(rec);
  }
}

async function route(ctx: ServeContext, req: http.IncomingMessage, res: http.ServerResponse, gone: AbortSignal, rec: RequestRecord): Promise<void> {
  const { path } = rec;
  if (ctx.closing) throw shuttingDown(res);
  checkHost(ctx, req);
  const origin = req.headers.origin;
  if (origin !== undefined) {
    // Browsers send Origin on cross-site requests: only the listed ones may drive this server.
    if (!ctx.allowOrigins.has(origin) && !ctx.allowOrigins.has('*')) {
      throw new HttpError(403, `Origin ${origin} is not allowed (start the server with --allow-origin ${origin} to let that page call it)`, 'forbidden');
    }
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('vary', 'Origin');
    res.setHeader('access-control-expose-headers', 'retry-after');
  }
  if (req.method === 'OPTIONS') {
    // CORS preflight (or a plain OPTIONS): what may be sent, cached for 10 minutes.
    res.writeHead(204, {
      allow: 'GET, POST, OPTIONS',
      ...(origin !== undefined ? { 'access-control-allow-methods': 'GET, POST, OPTIONS', 'access-control-allow-headers': 'authorization, content-type', 'access-control-max-age': '600' } : {}),
    });
    res.end();
    return;
  }
  // Open (no key): load balancers and monitors poll it; it reveals only load figures.
  if (path === '/health' && req.method === 'GET') {
    const { admission } = ctx;
    return sendJson(ctx, res, 200, { status: 'ok', model: ctx.model.id, running: admission.running, queued: admission.queued, maxQueue: admission.maxQueue });
  }
  if (!path.startsWith('/v1/')) throw new HttpError(404, `no route ${req.method} ${path}`, 'not_found');
  let key: number | undefined;
  if (ctx.keyHashes.length) {
    const k = keyIndex(req.headers.authorization, ctx.keyHashes);
    if (k < 0) {
      ctx.counters.rejectedAuth++;
      throw new HttpError(401, 'missing or wrong API key (send "Authorization: Bearer <key>")', 'authentication_error');
    }
    // With several keys, each has its own limits, and the log says which one (by number) sent what.
    if (ctx.keyHashes.length > 1) key = rec.key = k + 1;
  }
  if (path === '/v1/models' && req.method === 'GET') return sendJson(ctx, res, 200, modelsBody(ctx.model));
  const kind = path === '/v1/completions' ? 'completion' : path === '/v1/chat/completions' ? 'chat' : path === '/v1/embeddings' ? 'embeddings' : undefined;
  if (!kind) throw new HttpError(404, `no route ${req.method} ${path}`, 'not_found');
  if (req.method !== 'POST') throw new HttpError(405, `${path} takes POST`, 'invalid_request_error');
  // JSON only: a browser can send text/plain or a form cross-site without asking first; not JSON.
  const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    res.setHeader('connection', 'close');
    throw new HttpError(415, `request body must be JSON sent as "Content-Type: application/json" (got ${type ? `"${type}"` : 'none'})`, 'invalid_request_error');
  }
  const body = await readJson(req, ctx.maxBodyBytes, () => ctx.counters.rejectedTooLarge++);
  if (kind === 'embeddings') {
    checkModelName(ctx, body.model);
    const request = parseEmbeddings(body, ctx.maxPromptChars);
    const release = await admit(ctx, res, gone, rec, { tokens: 0, key });
    if (!release) return;
    try {
      return await sendEmbeddings(ctx, request, res, gone, rec);
    } finally {
      release();
    }
  }
  const request = parseGeneration(ctx, kind, body);
  rec.stream = request.options.stream;
  rec.maxTokens = request.options.maxTokens;
  const tokens = await requestCost(ctx, request);
  await admitAndGenerate(ctx, request, res, gone, rec, { tokens, key });
}

function parseGeneration(ctx: ServeContext, kind: 'completion' | 'chat', body: Record<string, unknown>): GenerationRequest {
  const options = parseCommon(body, ctx.model.contextLength);
  checkModelName(ctx, options.model);
  const request: GenerationRequest = kind === 'completion' ? { kind, prompt: parsePrompt(body), options } : { kind, messages: parseMessages(body), options };
  // Cheap check on characters before any tokenizing: no tokenizer packs more than 8 characters
  // into a token often enough for a longer prompt to fit, and tokenizing megabytes blocks the event loop.
  const chars = request.kind === 'completion' ? request.prompt.length : request.messages.reduce((n, m) => n + m.content.length, 0);
  if (chars > ctx.maxPromptChars) {
    const what = request.kind === 'completion' ? 'prompt is' : 'messages are';
    throw new HttpError(
      400,
      `${what} ${chars} characters; this server takes at most ${ctx.maxPromptChars} characters (${ctx.model.contextLength} tokens of context x 8)`,
      'invalid_request_error',
      request.kind === 'completion' ? 'prompt' : 'messages',
    );
  }
  const { maxTokens, n = 1 } = request.options;
  if (maxTokens * n > ctx.maxRequestTokens) {
    throw new HttpError(
      400,
      `max_tokens x n = ${maxTokens} x ${n} = ${maxTokens * n} tokens; this server generates at most ${ctx.maxRequestTokens} tokens per request (--max-request-tokens)`,
      'invalid_request_error',
      'max_tokens',
    );
  }
  return request;
}

/**
 * The tokens of work a request may demand: its prompt plus what it may generate (max_tokens, within
 * the context, for each of its n choices). A prompt that leaves no room in the context is a 400 now,
 * before it waits for a slot.
 */
async function requestCost(ctx: ServeContext, r: GenerationRequest): Promise<number> {
  const { backend, model } = ctx;
  let promptTokens: number;
  if (r.kind === 'completion') promptTokens = await backend.countTokens(r.prompt);
  else if (backend.renderChat) promptTokens = await backend.countTokens((await backend.renderChat({ ...r.options, messages: r.messages })).prompt);
  // Without the backend's template: the messages plus a few tokens of framing each.
  else promptTokens = (await Promise.all(r.messages.map((m) => backend.countTokens(m.content)))).reduce((a, b) => a + b + 8, 0);
  if (promptTokens >= model.contextLength) {
    const what = r.kind === 'completion' ? 'prompt is' : 'messages are';
    throw new HttpError(400, `${what} ${promptTokens} tokens; the model's context holds ${model.contextLength} (prompt + completion)`, 'invalid_request_error', r.kind === 'completion' ? 'prompt' : 'messages');
  }
  return promptTokens + Math.min(r.options.maxTokens, model.contextLength - promptTokens) * (r.options.n ?? 1);
}

/** A request may name the model; only the one served here exists. */
function checkModelName(ctx: ServeContext, model: unknown): void {
  if (model !== undefined && model !== null && typeof model !== 'string') throw new HttpError(400, '"model" must be a string', 'invalid_request_error', 'model');
  if (model && model !== ctx.model.id) {
    throw new HttpError(404, `The model \`${model}\` does not exist (this server serves \`${ctx.model.id}\`).`, 'NotFoundError', 'model');
  }
}

function shuttingDown(res: http.ServerResponse): HttpError {
  if (!res.headersSent) res.setHeader('retry-after', '5');
  return new HttpError(503, 'server is shutting down: retry in a moment (on another replica if there is one)', 'unavailable');
}

/** The name in a Host header, lower case and without its port ("[::1]" keeps its brackets). */
export function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.lastIndexOf(':');
  return colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

/** DNS rebinding: a page on evil.example resolving to this machine sends "Host: evil.example"; refuse it. */
function checkHost(ctx: ServeContext, req: http.IncomingMessage): void {
  if (ctx.allowedHosts.has('*')) return;
  const host = req.headers.host;
  if (host !== undefined && ctx.allowedHosts.has(hostName(host))) return;
  const shown = host === undefined ? 'missing' : JSON.stringify(host);
  throw new HttpError(403, `Host ${shown} is not allowed: use the server's address, or start it with --allowed-host NAME for the name clients use`, 'forbidden');
}

/** Waits for an admission slot: its release function, or undefined when the client left while queued (logged as 499). */
async function admit(ctx: ServeContext, res: http.ServerResponse, gone: AbortSignal, rec: RequestRecord, cost: Cost): Promise<(() => void) | undefined> {
  const { admission, counters } = ctx;
  const slot = admission.enter(gone, cost);
  if ('refused' in slot) {
    if (slot.limit === 'queue') counters.rejectedQueueFull++;
    else counters.rejectedOverLimit++;
    res.setHeader('retry-after', '1');
    throw new HttpError(429, slot.refused, 'rate_limit_error');
  }
  try {
    return await slot;
  } catch (e) {
    if (e instanceof ShuttingDown) throw shuttingDown(res);
    // The client left while queued: nothing was sent; log it as nginx does (499 client closed request).
    rec.status = 499;
    rec.finishReason = 'cancelled';
    rec.error = 'client closed the connection while queued';
    counters.cancelled++;
    return undefined;
  }
}

async function admitAndGenerate(ctx: ServeContext, request: GenerationRequest, res: http.ServerResponse, gone: AbortSignal, rec: RequestRecord, cost: Cost): Promise<void> {
  const { counters } = ctx;
  const release = await admit(ctx, res, gone, rec, cost);
  if (!release) return;
  try {
    const result = await generate(ctx, request, res, gone, rec.id);
    rec.completionTokens = result.usage.completionTokens;
    if (gone.aborted && ctx.closing && !res.destroyed) {
      counters.cancelled++;
      rec.finishReason = 'cancelled';
      // Aborted by shutdown, not by the client: tell it why instead of just dropping it.
      throw new HttpError(503, 'server shut down before the generation finished', 'unavailable');
    }
    rec.finishReason = gone.aborted ? 'cancelled' : result.choices.map((c) => c.finishReason).join(',');
    if (gone.aborted) {
      counters.cancelled++;
      // Nothing was sent (a JSON answer still generating): 499, as for a queued one; a stream keeps its 200.
      if (!res.headersSent) rec.status = 499;
      if (stalled.has(res)) rec.error = `client was not reading: dropped after ${ctx.writeTimeoutMs} ms without progress`;
    } else counters.completed++;
  } finally {
    release();
  }
}

function sendError(ctx: ServeContext, res: http.ServerResponse, err: HttpError, rec: RequestRecord): void {
  rec.status = err.status;
  rec.error = err.message;
  if (!res.headersSent) {
    // The unread rest of a too-large body is not worth receiving: close after answering.
    if (err.status === 413) res.setHeader('connection', 'close');
    sendJson(ctx, res, err.status, errorBody(err));
  } else if (!res.writableEnded) {
    // Mid-stream: an error event (no [DONE]) so the client cannot mistake it for success.
    res.end(`data: ${JSON.stringify(errorBody(err))}\n\n`);
  }
}

export function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/**
 * Which key the bearer token is (its index), or -1. Constant-time comparison against every key
 * (hashing first makes the lengths equal). The scheme is matched case-insensitively and the spaces
 * around the token are ignored, as RFC 7235 §2.1 has it ("bearer  KEY" works); the key itself is
 * compared exactly.
 */
function keyIndex(header: string | undefined, keyHashes: readonly Buffer[]): number {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return -1;
  const given = sha256(m[1].trim());
  let found = -1;
  keyHashes.forEach((h, i) => {
    if (timingSafeEqual(given, h)) found = i;
  });
  return found;
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
