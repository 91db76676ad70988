/**
 * The OpenAI wire format as `neox serve` speaks it: request bodies checked field by field
 * (a bad field is a 400 naming it, as vLLM does), and response/chunk objects shaped like
 * vLLM's so every OpenAI client, and our own adapter, reads them.
 */
import type { ChatMessage, CompletionResult, DecodingOptions, FinishReason } from '../types';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = 'invalid_request_error',
    readonly param?: string,
  ) {
    super(message);
  }
}

/** OpenAI's error body: {"error": {"message", "type", "param", "code"}}. */
export function errorBody(e: HttpError): object {
  return { error: { message: e.message, type: e.type, param: e.param ?? null, code: e.status } };
}

type Json = Record<string, unknown>;

function bad(param: string, why: string): never {
  throw new HttpError(400, `"${param}" ${why}`, 'invalid_request_error', param);
}

function num(body: Json, key: string, ok: (n: number) => boolean, why: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) bad(key, `${why} (got ${JSON.stringify(v)})`);
  return v;
}

export interface ParsedCommon extends DecodingOptions {
  stream: boolean;
  includeUsage: boolean;
  model?: string;
}

export function parseCommon(body: Json, contextLength: number): ParsedCommon {
  const int = Number.isInteger;
  const maxTokens = num(body, 'max_tokens', (n) => int(n) && n >= 1 && n < contextLength, `must be an integer from 1 to ${contextLength - 1}`) ?? 16;
  const temperature = num(body, 'temperature', (n) => n >= 0 && n <= 2, 'must be between 0 and 2') ?? 1;
  const topP = num(body, 'top_p', (n) => n > 0 && n <= 1, 'must be in (0, 1]');
  // vLLM uses -1 for "off"; we accept it and 0.
  const topK = num(body, 'top_k', (n) => int(n) && n >= -1, 'must be an integer >= -1 (-1 or 0 = off)');
  const repetitionPenalty = num(body, 'repetition_penalty', (n) => n > 0, 'must be > 0 (1 = off)');
  const n = num(body, 'n', (x) => int(x) && x >= 1 && x <= 16, 'must be an integer from 1 to 16');
  const seed = num(body, 'seed', (x) => int(x), 'must be an integer');
  let stop: string[] | undefined;
  const s = body.stop;
  if (typeof s === 'string') stop = s ? [s] : undefined;
  else if (Array.isArray(s)) {
    if (s.length > 4 || s.some((x) => typeof x !== 'string' || x === '')) bad('stop', 'must be a string or a list of up to 4 non-empty strings');
    stop = s.length ? (s as string[]) : undefined;
  } else if (s !== undefined && s !== null) bad('stop', 'must be a string or a list of strings');
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') bad('stream', 'must be true or false');
  if (body.model !== undefined && body.model !== null && typeof body.model !== 'string') bad('model', 'must be a string');
  const so = body.stream_options as Json | undefined;
  return {
    maxTokens,
    temperature,
    topP,
    topK: topK !== undefined && topK > 0 ? topK : undefined,
    repetitionPenalty,
    n,
    seed,
    stop,
    stream: body.stream === true,
    includeUsage: !!so && typeof so === 'object' && so.include_usage === true,
    model: (body.model as string | undefined) || undefined,
  };
}

export function parsePrompt(body: Json): string {
  const p = body.prompt;
  if (typeof p === 'string') return p;
  // OpenAI also allows a list; we serve one prompt per request.
  if (Array.isArray(p) && p.length === 1 && typeof p[0] === 'string') return p[0];
  if (Array.isArray(p)) bad('prompt', 'must be one string (lists of several prompts or of token ids are not supported)');
  return bad('prompt', 'is required and must be a string');
}

export function parseMessages(body: Json): ChatMessage[] {
  const m = body.messages;
  if (!Array.isArray(m) || m.length === 0) bad('messages', 'is required: a non-empty list of {role, content}');
  return m.map((x, i) => {
    const msg = x as Json;
    if (!msg || typeof msg !== 'object') bad(`messages[${i}]`, 'must be an object {role, content}');
    if (msg.role !== 'system' && msg.role !== 'user' && msg.role !== 'assistant') bad(`messages[${i}].role`, 'must be "system", "user" or "assistant"');
    let content = msg.content;
    // Content parts: keep the text ones (we have no images).
    if (Array.isArray(content)) content = content.map((c: Json) => (c?.type === 'text' && typeof c.text === 'string' ? c.text : '')).join('');
    if (typeof content !== 'string') bad(`messages[${i}].content`, 'must be a string');
    return { role: msg.role, content };
  });
}

/** vLLM's finish_reason + stop_reason: "stop" with null stop_reason = end-of-sequence token. */
export function wireFinish(r: FinishReason): { finish_reason: string; stop_reason: string | null } {
  if (r === 'length') return { finish_reason: 'length', stop_reason: null };
  if (r === 'stop') return { finish_reason: 'stop', stop_reason: 'stop' };
  return { finish_reason: 'stop', stop_reason: null };
}

export function usageBody(r: CompletionResult): object {
  const { promptTokens, completionTokens } = r.usage;
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}
