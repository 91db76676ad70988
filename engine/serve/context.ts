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
  /** Which API key sent it (1, 2, ...), when the server has several; never the key itself. */
  key?: number;
  ms: number;
  error?: string;
}

/** A log field with control characters (newline, ESC, ...), quotes and backslashes written as escapes: one record, one line, no terminal codes. */
export function escapeField(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f"\\\u2028\u2029]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    if (c === '"' || c === '\\') return `\\${c}`;
    const code = c.charCodeAt(0);
    return code > 0xff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}

/** The record as one JSON line (`--log-format json`): JSON.stringify escapes every control character. */
export function formatRecordJson(r: RequestRecord, now = new Date()): string {
  // JSON leaves DEL, the C1 controls and the line separators raw: escape them too.
  return JSON.stringify({ time: now.toISOString(), ...r, ms: Math.round(r.ms) }).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function formatRecord(r: RequestRecord): string {
  const e = escapeField;
  const gen = r.finishReason ? ` finish=${e(r.finishReason)} tokens=${r.completionTokens ?? 0}/${r.maxTokens ?? '?'}` : '';
  return `${e(r.method)} ${e(r.path)} ${r.status}${r.stream ? ' stream' : ''}${gen}${r.key ? ` key=${r.key}` : ''} ${Math.round(r.ms)}ms${r.error ? ` error="${e(r.error)}"` : ''}`;
}

export interface Counters {
  requests: number;
  completed: number;
  cancelled: number;
  rejectedQueueFull: number;
  /** 429s for the token limits (server or per key) and the per-key request limit. */
  rejectedOverLimit: number;
  rejectedAuth: number;
  rejectedTooLarge: number;
}

export interface ServeContext {
  readonly backend: CompletionBackend;
  readonly model: ModelInfo;
  readonly admission: Admission;
  readonly maxBodyBytes: number;
  /** sha256 of each API key /v1/* accepts; empty: no key required. */
  readonly keyHashes: readonly Buffer[];
  /** Generated tokens (max_tokens x n) one request may ask for. */
  readonly maxRequestTokens: number;
  readonly counters: Counters;
  /** Host header names accepted (lower case, no port; '*' = any): loopback names, the bound address, --allowed-host. */
  readonly allowedHosts: ReadonlySet<string>;
  /** Origins allowed to call from a browser (CORS); '*' = any. Requests with any other Origin get 403. */
  readonly allowOrigins: ReadonlySet<string>;
  /** A prompt longer than this many characters is refused before tokenizing (contextLength x 8). */
  readonly maxPromptChars: number;
  /** How long a client may leave a response unread (no 'drain') before it is dropped. */
  readonly writeTimeoutMs: number;
  /** Set once close() began: answers ask clients to close their connection, new requests get 503. */
  closing: boolean;
  readonly onRequest?: (r: RequestRecord) => void;
}

export function sendJson(ctx: ServeContext, res: http.ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...(ctx.closing ? { connection: 'close' } : {}) });
  res.end(text);
}
