// Integration against a server no one here wrote: llama.cpp's llama-server (../shared/peer, or
// NEOX_LLAMA_CPP=<build folder>), started by this file on a free port, serving the default model
// converted to GGUF F32 by ../shared/peer/make-gguf.sh (made once into .cache/peer/ and reused).
// The OpenAI adapter (load, health, streaming, stop sequences, cancellation, n > 1 which llama-server
// refuses), the language server's remote mode and the chat, each compared with the local fp32
// engine: greedy text must be identical. Where llama-server is missing or cannot run on this
// processor, or the converter's python packages are missing, every test fails saying so.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureGguf } from '../../bench/peer-gguf';
import { createBackend } from '../../engine/index';
import type { CompletionBackend, CompletionResult, TextChunk } from '../../engine/types';
import { MODEL_DIR, tempDir } from '../engine/model-helpers';
import { startServer, type Harness } from '../server/lsp-harness';
import { llamaServerBinary, startLlamaServer, type LlamaServer } from './llama-server-process';

let llama: LlamaServer;
let remote: CompletionBackend;
let local: CompletionBackend;
const cacheDir = tempDir('llama-it');

before(async () => {
  const gguf = `${ensureGguf(MODEL_DIR, 'neox-code-23m')}-F32.gguf`;
  // Two slots: the parallel single requests of n = 2 run side by side, as on a real deployment.
  llama = await startLlamaServer(gguf, { slots: 2 });
  remote = createBackend({ kind: 'openai', url: llama.url, firstTokenTimeoutMs: 60_000 });
  local = createBackend({ kind: 'local', modelDir: MODEL_DIR, quant: 'fp32', cacheDir });
  await Promise.all([remote.load(), local.load()]);
});

after(async () => {
  await remote?.dispose();
  await local?.dispose();
  await llama?.stop();
});

const PROMPTS = ['def fibonacci(n):\n', 'import numpy as np\n\n# mean of each row of a matrix\n', '// add two numbers\nfunction add(a, b) {\n'];

async function streamed(b: CompletionBackend, req: Parameters<CompletionBackend['complete']>[0]): Promise<{ r: CompletionResult; chunks: TextChunk[] }> {
  const chunks: TextChunk[] = [];
  const r = await b.complete(req, (c) => chunks.push(c));
  return { r, chunks };
}

test('load and health: the GGUF model, its training context (/v1/models meta), health ok', { timeout: 60_000 }, async () => {
  const info = await remote.load();
  assert.match(info.id, /neox-code-23m-F32\.gguf$/);
  assert.equal(info.contextLength, 2048);
  const h = await remote.health();
  assert.equal(h.ok, true, h.message);
  assert.match(h.message ?? '', /neox-code-23m-F32\.gguf/);
});

test("greedy streamed completions equal the local fp32 engine's", { timeout: 120_000 }, async () => {
  for (const prompt of PROMPTS) {
    const theirs = await streamed(remote, { prompt, maxTokens: 32, temperature: 0 });
    const ours = await local.complete({ prompt, maxTokens: 32, temperature: 0 });
    assert.ok(theirs.r.choices[0]!.text.length > 0, `llama-server answered nothing for ${JSON.stringify(prompt)}`);
    assert.equal(theirs.r.choices[0]!.text, ours.choices[0]!.text, `prompt ${JSON.stringify(prompt)}`);
    assert.equal(theirs.chunks.map((c) => c.text).join(''), theirs.r.choices[0]!.text, 'the stream adds up to the result');
    assert.ok(theirs.chunks.length > 1, 'it streamed');
    assert.equal(theirs.r.usage.completionTokens, ours.usage.completionTokens);
  }
});

test('a stop sequence ends the text before it, as the local engine does', { timeout: 60_000 }, async () => {
  const prompt = PROMPTS[0]!;
  const free = (await local.complete({ prompt, maxTokens: 32, temperature: 0 })).choices[0]!.text;
  // A stop string from the middle of the free text: the second line's start.
  const nl = free.indexOf('\n', 1);
  assert.ok(nl > 0 && nl < free.length - 4, `the free text has a second line: ${JSON.stringify(free)}`);
  const stop = free.slice(nl, nl + 4);
  const theirs = (await streamed(remote, { prompt, maxTokens: 32, temperature: 0, stop: [stop] })).r.choices[0]!;
  const ours = (await local.complete({ prompt, maxTokens: 32, temperature: 0, stop: [stop] })).choices[0]!;
  assert.equal(theirs.text, free.slice(0, nl));
  assert.equal(theirs.text, ours.text);
  assert.deepEqual([theirs.finishReason, ours.finishReason], ['stop', 'stop']);
});

test('cancelling a long stream ends it at once as "cancelled", and the server serves the next request', { timeout: 120_000 }, async () => {
  const ac = new AbortController();
  let abortedAt = 0;
  const r = await remote.complete({ prompt: PROMPTS[1]!, maxTokens: 1500, temperature: 0, signal: ac.signal }, () => {
    if (!abortedAt) {
      abortedAt = performance.now();
      ac.abort();
    }
  });
  const ms = performance.now() - abortedAt;
  assert.equal(r.choices[0]!.finishReason, 'cancelled');
  // Closing the socket ends the call (108 ms measured on loopback); 2 s leaves room for a busy shared machine.
  assert.ok(ms < 2000, `the cancelled call took ${ms.toFixed(0)} ms to end`);
  const next = await remote.complete({ prompt: PROMPTS[2]!, maxTokens: 8, temperature: 0 });
  assert.equal(next.choices[0]!.text, (await local.complete({ prompt: PROMPTS[2]!, maxTokens: 8, temperature: 0 })).choices[0]!.text);
});

test('n = 2, which llama-server refuses: two single requests, greedy both equal to the local text; remembered', { timeout: 120_000 }, async () => {
  const refusals = () => llama.log().split('Only one completion choice is allowed').length - 1;
  const before = refusals();
  const prompt = PROMPTS[0]!;
  const ours = (await local.complete({ prompt, maxTokens: 16, temperature: 0 })).choices[0]!.text;
  const { r, chunks } = await streamed(remote, { prompt, maxTokens: 16, temperature: 0, n: 2 });
  assert.deepEqual(r.choices.map((c) => c.text), [ours, ours]);
  assert.deepEqual([...new Set(chunks.map((c) => c.index))].sort(), [0, 1], 'both choices streamed');
  const sampled = await remote.complete({ prompt, maxTokens: 16, temperature: 0.8, seed: 11, n: 2 });
  assert.equal(sampled.choices.length, 2);
  for (const c of sampled.choices) assert.ok(c.text.length > 0 && c.finishReason !== 'cancelled', JSON.stringify(c));
  // The server said no once (the first call); the second went straight to single requests.
  assert.ok(refusals() - before <= 1, `refused ${refusals() - before} times`);
});

test("chat: rendered here in the model's format (llama-server reports only its stock ChatML), the same answer as the local engine", { timeout: 120_000 }, async () => {
  const messages = [{ role: 'user' as const, content: 'Write a Python function that returns the square of a number.' }];
  const theirs = await remote.chat({ messages, maxTokens: 48, temperature: 0 }, () => {});
  const ours = await local.chat({ messages, maxTokens: 48, temperature: 0 });
  assert.equal(theirs.chatFormat, ours.chatFormat);
  assert.equal(theirs.chatFormat, 'base');
  assert.ok(theirs.choices[0]!.text.trim().length > 0);
  assert.equal(theirs.choices[0]!.text, ours.choices[0]!.text);
  assert.doesNotMatch(theirs.choices[0]!.text, /<\|im_(end|start)/);
});

describe('the language server in remote mode, beside the language server with the local fp32 engine', () => {
  let viaLlama: Harness;
  let viaLocal: Harness;
  const uri = 'file:///work/project/shapes.py';
  const text = 'import math\n\n\ndef circle_area(radius):\n    ';
  const at = { line: 4, character: 4 };
  const items = (list: Awaited<ReturnType<Harness['inline']>>) => (list?.items ?? []).map((i) => (typeof i.insertText === 'string' ? i.insertText : i.insertText.value));

  before(async () => {
    [viaLlama, viaLocal] = await Promise.all([
      startServer({ backend: 'openai', remoteUrl: llama.url, remoteModel: '', debounceMs: 0, crossFileContext: false }),
      startServer({ backend: 'local', quantization: 'fp32', debounceMs: 0, crossFileContext: false }, { cacheDir }),
    ]);
    await Promise.all([viaLlama.waitReady(60_000), viaLocal.waitReady(120_000)]);
    await Promise.all([viaLlama.open(uri, 'python', text), viaLocal.open(uri, 'python', text)]);
  });
  after(async () => {
    await viaLlama?.close();
    await viaLocal?.close();
  });

  test('an automatic (greedy) inline completion is the same text', { timeout: 120_000 }, async () => {
    const theirs = items(await viaLlama.inline(uri, at));
    const ours = items(await viaLocal.inline(uri, at));
    assert.ok(theirs.length === 1 && theirs[0]!.trim().length > 0, JSON.stringify(theirs));
    assert.deepEqual(theirs, ours);
  });

  test('a manual trigger (3 sampled candidates, n = 3) answers with suggestions, not an error', { timeout: 120_000 }, async () => {
    await viaLlama.change(uri, `${text}# manual\n    `);
    const theirs = items(await viaLlama.inline(uri, { line: 5, character: 4 }, { invoked: true }));
    assert.ok(theirs.length >= 1 && theirs.every((t) => t.trim().length > 0), JSON.stringify(theirs));
  });

  test('chat is the same answer in the same format', { timeout: 120_000 }, async () => {
    const ask = (h: Harness, id: string) =>
      h.conn.sendRequest<{ content: string; finishReason: string; format?: string }>('neox/chat', {
        streamId: id,
        messages: [{ role: 'user', content: 'How do I read a file line by line in Python?' }],
      });
    const [theirs, ours] = [await ask(viaLlama, 'r1'), await ask(viaLocal, 'l1')];
    assert.ok(theirs.content.trim().length > 0);
    assert.equal(theirs.format, 'base');
    assert.deepEqual(theirs, ours);
  });
});

test('a llama-server this machine cannot run is a clear error naming it, not a skip', { timeout: 30_000 }, async () => {
  const dir = tempDir('llama-bad');
  mkdirSync(join(dir, 'bin'));
  // What a binary built for a newer processor does here: dies on an illegal instruction.
  writeFileSync(join(dir, 'bin', 'llama-server'), '#!/bin/sh\nkill -ILL $$\n', { mode: 0o755 });
  const saved = process.env.NEOX_LLAMA_CPP;
  process.env.NEOX_LLAMA_CPP = dir;
  try {
    assert.throws(() => llamaServerBinary(), (e: Error) => e.message.includes(join(dir, 'bin', 'llama-server')) && /cannot run on this machine: killed by SIGILL/.test(e.message));
    process.env.NEOX_LLAMA_CPP = join(dir, 'nothing');
    assert.throws(() => llamaServerBinary(), /llama-server not found .*NEOX_LLAMA_CPP/);
  } finally {
    if (saved === undefined) delete process.env.NEOX_LLAMA_CPP;
    else process.env.NEOX_LLAMA_CPP = saved;
  }
});
