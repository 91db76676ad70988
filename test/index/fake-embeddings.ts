/**
 * An OpenAI-compatible stand-in serving /v1/models and /v1/embeddings with deterministic vectors
 * (a hash of each input's words, so texts sharing words are near), for testing the workspace index
 * through the language server without a model: fast and the same on every run. `hold` makes
 * embedding requests wait until released (to stop a build in the middle). Completions and chats
 * get a fixed answer; their requests are kept (`requests`) to read the prompts.
 */
import { createHash } from 'node:crypto';
import { DONE, json, sseHead, startScripted, vllmChatChunk, vllmCompletionChunk, vllmModels, type Scripted } from '../remote/scripted-server';

export const FAKE_DIMS = 32;

/** A unit vector: each word adds to a few dimensions picked by its hash. */
export function fakeVector(text: string): number[] {
  const v = new Array<number>(FAKE_DIMS).fill(0);
  for (const w of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    const h = createHash('md5').update(w).digest();
    for (let i = 0; i < 3; i++) v[h[i]! % FAKE_DIMS]! += h[i + 3]! & 1 ? 1 : -1;
  }
  const n = Math.hypot(...v) || 1;
  return v.map((x) => x / n);
}

export interface FakeEmbeddings extends Scripted {
  /** Inputs embedded so far. */
  embedded: () => number;
  /** From now on, embedding requests wait for release(). */
  hold(): void;
  release(): void;
}

export async function startFakeEmbeddings(): Promise<FakeEmbeddings> {
  let count = 0;
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  const srv = await startScripted(async (req, res) => {
    if (req.path === '/v1/models') return json(res, 200, vllmModels());
    if (req.path === '/v1/completions' || req.path === '/v1/chat/completions') {
      const chat = req.path === '/v1/chat/completions';
      if (!req.body.stream) return json(res, 200, { choices: [{ index: 0, text: '    return 1\n', message: { content: 'It is defined there.' }, finish_reason: 'stop', stop_reason: null }] });
      sseHead(res);
      res.write(chat ? vllmChatChunk(0, { content: 'It is defined there.' }, 'stop') : vllmCompletionChunk(0, '    return 1\n', 'stop'));
      return void res.end(DONE);
    }
    if (req.path !== '/v1/embeddings') return json(res, 404, { detail: 'Not Found' });
    if (gate) await gate;
    const input = req.body.input as string[];
    count += input.length;
    return json(res, 200, { object: 'list', data: input.map((t, index) => ({ object: 'embedding', index, embedding: fakeVector(t) })), model: 'fake' });
  });
  return {
    ...srv,
    embedded: () => count,
    hold: () => void (gate ??= new Promise((r) => (open = r))),
    release: () => {
      open?.();
      gate = open = undefined;
    },
  };
}
