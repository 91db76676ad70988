/** What every request handler of `neox serve` shares: the backend, its limits and the server's counters. */
import type * as http from 'node:http';
import type { CompletionBackend, ModelInfo } from '../types';
import type { Admission } from './admission';

/** One line of the access log (ServeOptions.onRequest). */
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

export function formatRecord(r: RequestRecord): string {
  const gen = r.finishReason ? ` finish=${r.finishReason} tokens=${r.completionTokens ?? 0}/${r.maxTokens ?? '?'}` : '';
  return `${r.method} ${r.path} ${r.status}${r.stream ? ' stream' : ''}${gen} ${Math.round(r.ms)}ms${r.error ? ` error="${r.error}"` : ''}`;
}

export interface Counters {
  requests: number;
  completed: number;
  cancelled: number;
  rejectedQueueFull: number;
  rejectedAuth: number;
  rejectedTooLarge: number;
}

export interface ServeContext {
  readonly backend: CompletionBackend;
  readonly model: ModelInfo;
  readonly admission: Admission;
  readonly maxBodyBytes: number;
  /** sha256 of the API key /v1/* requires, if any. */
  readonly keyHash?: Buffer;
  readonly counters: Counters;
  /** Set once close() began: answers ask clients to close their connection, new requests get 503. */
  closing: boolean;
  readonly onRequest?: (r: RequestRecord) => void;
}

export function sendJson(ctx: ServeContext, res: http.ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...(ctx.closing ? { connection: 'close' } : {}) });
  res.end(text);
}
