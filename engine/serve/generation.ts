/** One admitted generation of `neox serve`, answered as OpenAI's JSON body or as its SSE stream. */
import type * as http from 'node:http';
import type { ChatMessage, CompletionResult, TextChunk } from '../types';
import { sendJson, type ServeContext } from './context';
import { usageBody, wireFinish, type ParsedCommon } from './wire';

export type GenerationRequest = { kind: 'completion'; prompt: string; options: ParsedCommon } | { kind: 'chat'; messages: ChatMessage[]; options: ParsedCommon };

/** The fields every response object and chunk of one request repeats. */
interface Head {
  id: string;
  object: string;
  created: number;
  model: string;
}

/** Responses dropped because their client stopped reading (routes.ts logs why). */
export const stalled = new WeakSet<http.ServerResponse>();

/**
 * Writes that respect backpressure: once the socket's buffer is full, later chunks wait here
 * (in order) for 'drain'; a client that lets `timeoutMs` pass without draining is dropped
 * (the socket destroyed, which aborts its generation through the request's `gone` signal).
 */
export class PacedWriter {
  private readonly pending: string[] = [];
  private blocked = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly res: http.ServerResponse,
    private readonly timeoutMs: number,
  ) {
    res.once('close', () => clearTimeout(this.timer));
  }

  write(text: string): void {
    if (this.res.destroyed) return;
    if (this.blocked) this.pending.push(text);
    else this.put(text);
  }

  /** Everything written, then the response ended and flushed to the socket (or the client dropped). */
  async end(text: string): Promise<void> {
    this.write(text);
    while (this.blocked && !this.res.destroyed) await new Promise((r) => setTimeout(r, 5));
    if (this.res.destroyed) return;
    this.res.end();
  }

  private put(text: string): void {
    if (this.res.write(text)) return;
    this.blocked = true;
    this.timer = setTimeout(() => {
      stalled.add(this.res);
      this.res.destroy();
    }, this.timeoutMs);
    this.res.once('drain', () => {
      clearTimeout(this.timer);
      this.blocked = false;
      while (this.pending.length && !this.blocked && !this.res.destroyed) this.put(this.pending.shift()!);
    });
  }
}

/** Runs `r` on the backend and answers it; an aborted `signal` (the client left) leaves the answer unfinished. */
export async function generate(ctx: ServeContext, r: GenerationRequest, res: http.ServerResponse, signal: AbortSignal, requestId: string): Promise<CompletionResult> {
  const chat = r.kind === 'chat';
  const o = r.options;
  const head: Head = {
    id: `${chat ? 'chatcmpl' : 'cmpl'}-${requestId}`,
    object: chat ? (o.stream ? 'chat.completion.chunk' : 'chat.completion') : 'text_completion',
    created: Math.floor(Date.now() / 1000),
    model: ctx.model.id,
  };
  return o.stream ? stream(ctx, r, res, signal, head) : whole(ctx, r, res, signal, head);
}

function run(ctx: ServeContext, r: GenerationRequest, signal: AbortSignal, onChunk?: (c: TextChunk) => void): Promise<CompletionResult> {
  const decoding = { ...r.options, signal };
  return r.kind === 'chat' ? ctx.backend.chat({ ...decoding, messages: r.messages }, onChunk) : ctx.backend.complete({ ...decoding, prompt: r.prompt }, onChunk);
}

async function whole(ctx: ServeContext, r: GenerationRequest, res: http.ServerResponse, signal: AbortSignal, head: Head): Promise<CompletionResult> {
  const result = await run(ctx, r, signal);
  if (signal.aborted) return result;
  sendJson(ctx, res, 200, {
    ...head,
    choices: result.choices.map((c) =>
      r.kind === 'chat'
        ? { index: c.index, message: { role: 'assistant', content: c.text }, logprobs: null, ...wireFinish(c.finishReason) }
        : { index: c.index, text: c.text, logprobs: null, ...wireFinish(c.finishReason) },
    ),
    usage: usageBody(result),
  });
  return result;
}

async function stream(ctx: ServeContext, r: GenerationRequest, res: http.ServerResponse, signal: AbortSignal, head: Head): Promise<CompletionResult> {
  const chat = r.kind === 'chat';
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: ctx.closing ? 'close' : 'keep-alive' });
  const out = new PacedWriter(res, ctx.writeTimeoutMs);
  const send = (obj: object) => out.write(`data: ${JSON.stringify(obj)}\n\n`);
  if (chat) {
    for (let i = 0; i < (r.options.n ?? 1); i++) send({ ...head, choices: [{ index: i, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] });
  }
  const result = await run(ctx, r, signal, (c) =>
    send({
      ...head,
      choices: [chat ? { index: c.index, delta: { content: c.text }, logprobs: null, finish_reason: null } : { index: c.index, text: c.text, logprobs: null, finish_reason: null, stop_reason: null }],
    }),
  );
  if (signal.aborted) return result;
  for (const c of result.choices) {
    const f = wireFinish(c.finishReason);
    send({ ...head, choices: [chat ? { index: c.index, delta: {}, logprobs: null, finish_reason: f.finish_reason, stop_reason: f.stop_reason } : { index: c.index, text: '', logprobs: null, ...f }] });
  }
  if (r.options.includeUsage) send({ ...head, choices: [], usage: usageBody(result) });
  await out.end('data: [DONE]\n\n');
  return result;
}
