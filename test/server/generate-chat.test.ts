// Chat generation (server/generate.ts): answers stream token by token, a looping answer stops at the
// loop keeping its first run (the stream never shows what the answer drops), and cancelling returns
// the text so far.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChatRequest, CompletionBackend, CompletionResult, TextChunk } from '../../engine/types';
import { chat, type GenerateDeps } from '../../server/generate';

/** Streams `tokens` one by one, honouring the request's signal between tokens like the real backends. */
function streamingBackend(tokens: string[]) {
  const seen = { produced: 0, request: undefined as ChatRequest | undefined };
  const backend: CompletionBackend = {
    load: async () => ({ id: 'scripted', backend: 'local', contextLength: 2048, serializesGenerations: false, canEmbed: false }),
    complete: async () => {
      throw new Error('not used');
    },
    async chat(req: ChatRequest, onChunk?: (c: TextChunk) => void): Promise<CompletionResult> {
      seen.request = req;
      let text = '';
      for (const t of tokens) {
        if (req.signal?.aborted) return { choices: [{ index: 0, text, finishReason: 'cancelled' }], usage: { promptTokens: 1, completionTokens: seen.produced } };
        await new Promise((r) => setImmediate(r));
        seen.produced++;
        text += t;
        onChunk?.({ index: 0, text: t });
      }
      return { choices: [{ index: 0, text, finishReason: 'length' }], usage: { promptTokens: 1, completionTokens: seen.produced } };
    },
    countTokens: async (t) => Math.ceil(t.length / 4),
    health: async () => ({ ok: true }),
    dispose: async () => {},
  };
  return { backend, seen };
}

function deps(backend: CompletionBackend, signal = new AbortController().signal) {
  const emitted: string[] = [];
  const d: GenerateDeps = {
    backend,
    info: { id: 'scripted', backend: 'local', contextLength: 2048, serializesGenerations: false, canEmbed: false },
    maxTokens: 64,
    temperature: 0,
    countTokens: (t) => backend.countTokens(t),
    signal,
    emit: (delta) => emitted.push(delta),
  };
  return { d, emitted };
}

const messages = [{ role: 'user' as const, content: 'What is this?' }];

test('a looping answer stops at the loop, keeps its first run, and streamed exactly that', async () => {
  const loop = Array.from({ length: 40 }, () => ' a simple example of');
  const { backend, seen } = streamingBackend(['This', ' function', ' is', ...loop]);
  const { d, emitted } = deps(backend);
  const r = await chat({ streamId: 's', messages }, d);
  assert.equal(r.content, 'This function is a simple example of a simple example of');
  assert.equal(emitted.join(''), r.content);
  assert.equal(r.finishReason, 'stop');
  assert.ok(seen.produced <= 7, `generation went on for ${seen.produced} tokens after the loop`);
});

test('a block of lines looping in an answer: its second copy is never streamed', async () => {
  const block = ['- step one\n', '- step two\n'];
  const { backend } = streamingBackend(['Steps:\n', ...block, ...block, ...block, ...block]);
  const { d, emitted } = deps(backend);
  const r = await chat({ streamId: 's', messages }, d);
  assert.equal(r.content, 'Steps:\n- step one\n- step two');
  assert.equal(emitted.join(''), r.content);
});

test('an answer without a loop runs to its end and streams every token', async () => {
  const tokens = ['Use', ' sum', '(xs)', '.\n', '```python\n', 'total = sum(xs)\n', '```'];
  const { backend, seen } = streamingBackend(tokens);
  const { d, emitted } = deps(backend);
  const r = await chat({ streamId: 's', messages }, d);
  assert.equal(r.finishReason, 'length');
  assert.equal(seen.produced, tokens.length);
  assert.equal(emitted.join(''), tokens.join(''));
  assert.equal(r.content, tokens.join(''));
  assert.ok(seen.request!.maxTokens! >= 256, 'chat answers get room for at least 256 tokens');
});

test('the caller cancelling wins over everything: finishReason cancelled with the text so far', async () => {
  const ac = new AbortController();
  const { backend } = streamingBackend(['one', ' two', ' three', ' four']);
  const { d } = deps(backend, ac.signal);
  const emit = d.emit;
  d.emit = (t) => {
    emit(t);
    if (t === ' two') ac.abort();
  };
  const r = await chat({ streamId: 's', messages }, d);
  assert.equal(r.finishReason, 'cancelled');
  assert.equal(r.content, 'one two');
});
