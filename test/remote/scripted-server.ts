/**
 * A loopback HTTP(S) server whose answers are scripted per test, for replaying the exact wire
 * format of vLLM and TGI (and their failure modes) to the adapters. It records every request
 * and notices when a client closes its connection.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

export interface Recorded {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
}

export type Script = (req: Recorded, res: http.ServerResponse, raw: http.IncomingMessage) => void | Promise<void>;

export interface Scripted {
  url: string;
  port: number;
  requests: Recorded[];
  /** Resolves when the client side of a request's connection closes before the response ended. */
  clientClosed: Promise<void>;
  sockets: Set<Socket>;
  close(): Promise<void>;
}

export async function startScripted(script: Script, tls?: { key: string; cert: string }): Promise<Scripted> {
  const requests: Recorded[] = [];
  const sockets = new Set<Socket>();
  let markClosed!: () => void;
  const clientClosed = new Promise<void>((r) => (markClosed = r));
  const handler = async (raw: http.IncomingMessage, res: http.ServerResponse) => {
    const parts: Buffer[] = [];
    for await (const c of raw) parts.push(c as Buffer);
    const text = Buffer.concat(parts).toString('utf8');
    const rec: Recorded = { method: raw.method ?? '', path: raw.url ?? '', headers: raw.headers, body: text ? JSON.parse(text) : undefined };
    requests.push(rec);
    res.on('close', () => {
      if (!res.writableFinished) markClosed();
    });
    await script(rec, res, raw);
  };
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    requests,
    clientClosed,
    sockets,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start an SSE answer the way vLLM/TGI do (200, text/event-stream, chunked). */
export function sseHead(res: http.ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  res.flushHeaders();
}

export function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

// ---------- vLLM wire format (docs.vllm.ai OpenAI-compatible server; vllm/entrypoints/openai/protocol.py) ----------

export const VLLM_MODEL = 'EleutherAI/gpt-neox-20b';

export function vllmModels(maxModelLen = 2048): unknown {
  return {
    object: 'list',
    data: [
      {
        id: VLLM_MODEL,
        object: 'model',
        created: 1732600000,
        owned_by: 'vllm',
        root: VLLM_MODEL,
        parent: null,
        max_model_len: maxModelLen,
        permission: [{ id: 'modelperm-1', object: 'model_permission', created: 1732600000, allow_create_engine: false, allow_sampling: true, allow_logprobs: true, allow_search_indices: false, allow_view: true, allow_fine_tuning: false, organization: '*', group: null, is_blocking: false }],
      },
    ],
  };
}

/** One `data: {...}\n\n` line of a vLLM /v1/completions stream. */
export function vllmCompletionChunk(index: number, text: string, finish: string | null = null, stopReason: string | null = null): string {
  return `data: ${JSON.stringify({ id: 'cmpl-8d2e', object: 'text_completion', created: 1732600001, model: VLLM_MODEL, choices: [{ index, text, logprobs: null, finish_reason: finish, stop_reason: stopReason }] })}\n\n`;
}

export function vllmChatChunk(index: number, delta: Record<string, unknown>, finish: string | null = null): string {
  return `data: ${JSON.stringify({ id: 'chatcmpl-51a0', object: 'chat.completion.chunk', created: 1732600001, model: VLLM_MODEL, choices: [{ index, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
}

export function vllmUsageChunk(prompt: number, completion: number): string {
  return `data: ${JSON.stringify({ id: 'cmpl-8d2e', object: 'text_completion', created: 1732600001, model: VLLM_MODEL, choices: [], usage: { prompt_tokens: prompt, total_tokens: prompt + completion, completion_tokens: completion } })}\n\n`;
}

export const DONE = 'data: [DONE]\n\n';

/** vLLM's error body (ErrorResponse). */
export function vllmError(message: string, code: number): unknown {
  return { object: 'error', message, type: code === 400 ? 'BadRequestError' : 'InternalServerError', param: null, code };
}

// ---------- TGI wire format (huggingface.co/docs/text-generation-inference, OpenAPI /generate_stream) ----------

export const TGI_MODEL = 'EleutherAI/gpt-neox-20b';

export function tgiInfo(maxInput = 1024, maxTotal = 2048): unknown {
  return {
    model_id: TGI_MODEL,
    model_sha: '4e49eadb5d14bd22f314ec3f45b69a87b88c7691',
    model_dtype: 'torch.float16',
    model_device_type: 'cuda',
    model_pipeline_tag: 'text-generation',
    max_concurrent_requests: 128,
    max_best_of: 2,
    max_stop_sequences: 4,
    max_input_tokens: maxInput,
    max_total_tokens: maxTotal,
    waiting_served_ratio: 0.3,
    max_batch_total_tokens: 16000,
    max_waiting_tokens: 20,
    max_batch_size: null,
    validation_workers: 2,
    max_client_batch_size: 4,
    router: 'text-generation-router',
    version: '2.4.1',
    sha: null,
    docker_label: null,
  };
}

/** TGI writes `data:` without a space. */
export function tgiToken(index: number, id: number, text: string, special = false): string {
  return `data:${JSON.stringify({ index, token: { id, text, logprob: -0.25, special }, generated_text: null, details: null })}\n\n`;
}

export function tgiFinal(index: number, id: number, text: string, generated: string, finish: string, tokens: number, special = false): string {
  return `data:${JSON.stringify({ index, token: { id, text, logprob: -0.1, special }, generated_text: generated, details: { finish_reason: finish, generated_tokens: tokens, seed: null, input_length: 7 } })}\n\n`;
}
