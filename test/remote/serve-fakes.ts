/**
 * Stand-ins for `neox serve` tests: a backend whose generations the test drives, a server around it
 * that records its access log, and a raw HTTP client (headers as given, so Host, Origin and
 * Content-Type can be forged).
 */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { startServe, type ServeHandle, type ServeOptions } from '../../engine/serve/server';
import type { RequestRecord } from '../../engine/serve/context';
import type { CompletionBackend, CompletionRequest, CompletionResult, ModelInfo, TextChunk } from '../../engine/types';

/** A backend whose generations the test drives: each call waits for `script` (default: one chunk "ok"). */
export interface Fake extends CompletionBackend {
  calls: { req: CompletionRequest; signal?: AbortSignal }[];
  script?: (req: CompletionRequest, onChunk?: (c: TextChunk) => void) => Promise<CompletionResult>;
}

export function fakeBackend(contextLength = 2048): Fake {
  const info: ModelInfo = { id: 'fake', backend: 'local', contextLength, serializesGenerations: true, canEmbed: false };
  const fake: Fake = {
    calls: [],
    load: async () => info,
    async complete(req, onChunk) {
      fake.calls.push({ req, signal: req.signal });
      if (fake.script) return fake.script(req, onChunk);
      onChunk?.({ index: 0, text: 'ok' });
      return result('ok', 1);
    },
    async chat(req, onChunk) {
      return fake.complete({ ...req, prompt: req.messages.map((m) => m.content).join('\n') }, onChunk);
    },
    countTokens: async (t) => t.length,
    health: async () => ({ ok: true }),
    dispose: async () => {},
  };
  return fake;
}

export function result(text: string, tokens: number, finish: 'stop' | 'length' | 'cancelled' = 'stop'): CompletionResult {
  return { choices: [{ index: 0, text, finishReason: finish }], usage: { promptTokens: 1, completionTokens: tokens } };
}

const servers: ServeHandle[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

/** Closes `serve` when the test file ends. */
export function closeAfter(serve: ServeHandle): ServeHandle {
  servers.push(serve);
  return serve;
}

export async function serveFake(fake: Fake, opts: ServeOptions = {}): Promise<{ serve: ServeHandle; records: RequestRecord[] }> {
  const records: RequestRecord[] = [];
  const serve = await startServe(fake, { port: 0, onRequest: (r) => records.push(r), ...opts });
  servers.push(serve);
  return { serve, records };
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json?: any;
}

/** One raw HTTP request (headers as given, so Host, Origin and Content-Type can be forged). */
export function call(url: string, method: string, path: string, opts: { headers?: Record<string, string>; body?: string | object; signal?: AbortSignal } = {}): Promise<Answer> {
  const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const headers: Record<string, string> = { ...(body !== undefined && typeof opts.body === 'object' ? { 'content-type': 'application/json' } : {}), ...opts.headers };
  return new Promise((resolve, reject) => {
    const req = http.request(url + path, { method, headers, agent: false, signal: opts.signal }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let json: any;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export const waitUntil = async (cond: () => boolean, what: string, ms = 5000) => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

