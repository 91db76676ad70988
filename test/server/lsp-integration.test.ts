// The real server (server/server.ts over stdio, or dist/server.mjs with NEOX_SERVER=dist) with the
// real default model, driven by a vscode-jsonrpc client the way an editor drives it.
import { after, before, describe, test as nodeTest } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { postprocess } from '../../server/postprocess/index';
import { CancellationTokenSource, ROOT, startServer, type Harness } from './lsp-harness';
import { DebugInFlightRequest } from '../../server/protocol';

// int8 is the shipped default; NEOX_TEST_QUANT=fp32 checks the other path.
/** Every test gets a timeout: a hung request fails the test instead of blocking the run. */
const test = (name: string, fn: () => Promise<void>) => nodeTest(name, { timeout: 120_000 }, fn);

const QUANT = (process.env.NEOX_TEST_QUANT ?? 'int8') as 'fp32' | 'int8';

const fixtures = readFileSync(join(ROOT, 'test/fixtures/code-eval.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as { lang: string; path: string; text: string });
const fixture = (lang: string, path: string) => fixtures.find((f) => f.lang === lang && f.path === path)!;

/** Cursor positions in the middle of code lines spread over the file; the document is cut at the cursor. */
function cutPoints(text: string, count: number): { text: string; line: number; character: number }[] {
  const lines = text.split('\n');
  const candidates = lines
    .map((l, i) => ({ l, i }))
    .filter(({ l }) => l.trim().length >= 14 && !/^\s*(\/\/|\/\*|\*|#)/.test(l));
  const out = [];
  for (let k = 0; k < count; k++) {
    const { l, i } = candidates[Math.floor(((k + 1) * candidates.length) / (count + 1))]!;
    const indent = l.length - l.trimStart().length;
    // After the first word or so: mid-statement.
    const sp = l.indexOf(' ', indent + 3);
    const character = sp > 0 && sp < l.length - 2 ? sp + 1 : Math.floor((indent + l.length) / 2);
    out.push({ text: [...lines.slice(0, i), l.slice(0, character)].join('\n'), line: i, character });
  }
  return out;
}

function assertPostprocessed(text: string, languageId: string, prefix: string) {
  assert.ok(text.trim().length > 0, 'empty item');
  for (const line of text.split('\n')) assert.equal(line, line.trimEnd(), `trailing whitespace in ${JSON.stringify(text)}`);
  assert.ok(text.split('\n').length <= 12, 'more lines than maxLines');
  // Post-processing is idempotent: the item is already what the pipeline produces.
  const again = postprocess(text, { languageId, prefix, suffix: '', multiline: text.includes('\n'), maxLines: 12 });
  assert.equal(again, text);
}

describe(`language server over stdio, real model (${QUANT})`, () => {
  let h: Harness;
  before(async () => {
    h = await startServer({ quantization: QUANT, debounceMs: 0 });
    await h.waitReady(300_000);
  });
  after(async () => {
    await h?.close();
  });

  for (const [lang, path] of [
    ['python', 'parallel.py'],
    ['typescript', 'entrypoints.d.ts'],
    ['java', 'PerfDataPrologue.java'],
    ['c', 'fiemap.h'],
  ] as const) {
    test(`${lang}: inline completions at several positions are non-empty and post-processed`, async () => {
      const f = fixture(lang, path);
      let nonEmpty = 0;
      const points = cutPoints(f.text, 4);
      for (const [k, p] of points.entries()) {
        const uri = `file:///work/project/${k}-${path}`;
        await h.open(uri, lang, p.text);
        const r = await h.inline(uri, { line: p.line, character: p.character }, { invoked: false });
        assert.ok(r && Array.isArray(r.items));
        for (const item of r.items) {
          const text = typeof item.insertText === 'string' ? item.insertText : item.insertText.value;
          assertPostprocessed(text, lang, p.text);
          assert.deepEqual(item.range, { start: { line: p.line, character: p.character }, end: { line: p.line, character: p.character } });
          assert.equal(item.command?.command, 'neoxComplete.inlineAccepted');
          assert.equal(typeof item.command?.arguments?.[0], 'string');
        }
        if (r.items.length) nonEmpty++;
      }
      assert.ok(nonEmpty >= 3, `only ${nonEmpty} of ${points.length} positions got a completion`);
    });
  }

  test('a multi-line position inside a block gets a multi-line, block-bounded completion', async () => {
    const uri = 'file:///work/project/multi.py';
    const text = 'import os\n\n\ndef list_python_files(folder):\n    \n\n\ndef main():\n    print(list_python_files("."))\n';
    await h.open(uri, 'python', text);
    const r = await h.inline(uri, { line: 4, character: 4 }, { invoked: true });
    assert.ok(r && r.items.length >= 1);
    for (const item of r.items) {
      const t = item.insertText as string;
      // Stays inside the function body: no line back at column 0.
      for (const line of t.split('\n').slice(1)) if (line.trim()) assert.match(line, /^\s{4}/, JSON.stringify(t));
    }
  });

  test('typed-through: typing the start of the suggestion answers from it without generating', async () => {
    // The tiny model may have nothing to say in one context; use the first that gets a suggestion.
    let found: { uri: string; base: string; line: number; character: number; suggestion: string; id: unknown } | undefined;
    for (const [i, base] of ['def add(a, b):\n    return ', 'import os\nimport ', 'for i in range(', 'values = [1, 2, 3]\ntotal = sum('].entries()) {
      const uri = `file:///work/project/typed-${i}.py`;
      await h.open(uri, 'python', base);
      const lines = base.split('\n');
      const pos = { line: lines.length - 1, character: lines.at(-1)!.length };
      const r = await h.inline(uri, pos, { invoked: true });
      const item = r?.items.find((it) => (it.insertText as string).length >= 2);
      if (item) {
        found = { uri, base, ...pos, suggestion: item.insertText as string, id: item.command?.arguments?.[0] };
        break;
      }
    }
    assert.ok(found, 'no context produced a suggestion');
    const typed = found.suggestion.slice(0, 1);
    await h.change(found.uri, found.base + typed);
    const statsBefore = await h.conn.sendRequest<{ typedThroughHits: number }>('neox/getStatistics');
    const second = await h.inline(found.uri, { line: found.line, character: found.character + typed.length }, { invoked: true });
    assert.ok(second && second.items.length > 0);
    assert.equal(second.items[0]!.insertText, found.suggestion.slice(typed.length));
    assert.equal(second.items[0]!.command?.arguments?.[0], found.id);
    const statsAfter = await h.conn.sendRequest<{ typedThroughHits: number }>('neox/getStatistics');
    assert.equal(statsAfter.typedThroughHits, statsBefore.typedThroughHits + 1);
  });

  test('a request cancelled mid-generation returns promptly and the next one works', async () => {
    const uri = 'file:///work/project/cancel.py';
    const text = 'class Matrix:\n    def __init__(self, rows, cols):\n        ';
    await h.open(uri, 'python', text);
    h.settings.maxTokens = 512;
    h.settings.maxLines = 400;
    await h.conn.sendNotification('workspace/didChangeConfiguration', { settings: {} });
    await new Promise((r) => setTimeout(r, 200));
    const cts = new CancellationTokenSource();
    const pending = h.inline(uri, { line: 2, character: 8 }, { invoked: true, token: cts });
    // Wait until the generation is really running, then cancel it.
    for (let i = 0; i < 400; i++) {
      const s = await h.conn.sendRequest(DebugInFlightRequest);
      if (s.inFlight > 0) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const running = await h.conn.sendRequest(DebugInFlightRequest);
    assert.equal(running.inFlight, 1, 'generation should be running when cancelled');
    const t0 = performance.now();
    cts.cancel();
    await assert.rejects(pending, (e: { code?: number }) => e.code === -32800);
    const ms = performance.now() - t0;
    assert.ok(ms < 300, `cancellation took ${ms.toFixed(0)} ms`);
    const idle = await h.conn.sendRequest(DebugInFlightRequest);
    assert.deepEqual(idle, { inFlight: 0, lockRunning: 0 });
    h.settings.maxTokens = 64;
    h.settings.maxLines = 12;
    await h.conn.sendNotification('workspace/didChangeConfiguration', { settings: {} });
    await new Promise((r) => setTimeout(r, 200));
    const next = await h.inline(uri, { line: 2, character: 8 }, { invoked: true });
    assert.ok(next && next.items.length > 0);
  });

  test('200 rapid requests with cancellations leave nothing running and memory flat', async () => {
    const uri = 'file:///work/project/rapid.ts';
    let text = 'export function sum(values: number[]): number {\n  let total = 0;\n  ';
    await h.open(uri, 'typescript', text);
    const typing = 'for (const v of values) { total += v; }';
    const burst = async (n: number) => {
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++) {
        text += typing[i % typing.length];
        await h.change(uri, text);
        const lines = text.split('\n');
        const cts = new CancellationTokenSource();
        pending.push(h.inline(uri, { line: lines.length - 1, character: lines.at(-1)!.length }, { token: cts }).catch((e) => e));
        if (i % 3 === 0) setTimeout(() => cts.cancel(), 2);
        await new Promise((r) => setTimeout(r, i % 10 === 9 ? 120 : 8));
        if (i % 40 === 39) text += '\n  ';
      }
      return Promise.all(pending);
    };
    await burst(40); // warm-up: caches and heap reach their working size
    const rssBefore = h.rssKb();
    const results = await burst(200);
    for (const r of results) {
      if (r instanceof Error) assert.equal((r as { code?: number }).code, -32800, String(r));
    }
    const state = await h.conn.sendRequest(DebugInFlightRequest);
    assert.deepEqual(state, { inFlight: 0, lockRunning: 0 });
    const rssAfter = h.rssKb();
    const growthMb = (rssAfter - rssBefore) / 1024;
    console.log(`rss before ${(rssBefore / 1024).toFixed(1)} MB, after ${(rssAfter / 1024).toFixed(1)} MB`);
    assert.ok(growthMb < 40, `RSS grew ${growthMb.toFixed(1)} MB over 200 requests`);
    // Still serving.
    await h.change(uri, text);
    const r = await h.inline(uri, { line: text.split('\n').length - 1, character: text.split('\n').at(-1)!.length }, { invoked: true });
    assert.ok(r);
  });

  test('broken requests get LSP errors with a clear message and the server keeps serving', async () => {
    await assert.rejects(h.inline('file:///work/project/never-opened.py', { line: 0, character: 0 }), (e: { code?: number; message: string }) =>
      e.code === -32602 && e.message.includes('never-opened.py') && e.message.includes('didOpen'),
    );
    const uri = 'file:///work/project/short.py';
    await h.open(uri, 'python', 'x = 1\n');
    await assert.rejects(h.inline(uri, { line: 7, character: 0 }), (e: { message: string }) => e.message.includes('outside'));
    await assert.rejects(h.inline(uri, { line: 0, character: 40 }), (e: { message: string }) => e.message.includes('outside'));
    await assert.rejects(
      h.conn.sendRequest('neox/generateFromComment', { streamId: 's0', textDocument: { uri }, position: { line: 0, character: 0 } }),
      (e: { message: string }) => e.message.includes('no comment'),
    );
    // A model folder that does not exist: the error names it; fixing the setting recovers.
    h.settings.modelPath = '/nonexistent/model-folder';
    await h.conn.sendNotification('workspace/didChangeConfiguration', { settings: {} });
    await new Promise((r) => setTimeout(r, 300));
    await assert.rejects(h.inline(uri, { line: 1, character: 0 }, { invoked: true }), (e: { message: string }) =>
      e.message.includes('/nonexistent/model-folder'),
    );
    const status = await h.conn.sendRequest<{ state: string; message?: string }>('neox/getStatus');
    assert.equal(status.state, 'error');
    delete h.settings.modelPath;
    await h.conn.sendNotification('workspace/didChangeConfiguration', { settings: {} });
    await h.waitReady(120_000);
    const r = await h.inline(uri, { line: 1, character: 0 }, { invoked: true });
    assert.ok(r && Array.isArray(r.items));
    assert.equal(h.child.exitCode, null);
  });

  test('settings apply live: disabled languages get no items, status reports the model', async () => {
    const uri = 'file:///work/project/live.ts';
    await h.open(uri, 'typescript', 'const total = values.reduce(');
    h.settings.enabledLanguages = ['python'];
    await h.conn.sendNotification('workspace/didChangeConfiguration', { settings: {} });
    await new Promise((r) => setTimeout(r, 200));
    const off = await h.inline(uri, { line: 0, character: 28 }, { invoked: true });
    assert.deepEqual(off?.items, []);
    delete h.settings.enabledLanguages;
    await h.conn.sendNotification('workspace/didChangeConfiguration', { settings: {} });
    await new Promise((r) => setTimeout(r, 200));
    const on = await h.inline(uri, { line: 0, character: 28 }, { invoked: true });
    assert.ok(on && Array.isArray(on.items));
    assert.ok(h.statuses.some((s) => s.state === 'ready' && s.model.endsWith('neox-code-23m')));
  });

  test('a streaming request (generateFile) is cancellable mid-stream', async () => {
    h.settings.maxTokens = 1500;
    await h.conn.sendNotification('workspace/didChangeConfiguration', { settings: {} });
    await new Promise((r) => setTimeout(r, 200));
    const cts = new CancellationTokenSource();
    const pending = h.conn.sendRequest<{ finishReason: string }>(
      'neox/generateFile',
      { streamId: 'cancel-me', description: 'Utility functions for strings.', fileName: 'strings.py' },
      cts.token,
    );
    // Wait for generated text (beyond the echoed description) to stream, then cancel.
    for (let i = 0; i < 400 && h.streams.filter((x) => x.streamId === 'cancel-me').length < 3; i++) await new Promise((r) => setTimeout(r, 5));
    const t0 = performance.now();
    cts.cancel();
    const outcome = await pending.then((r) => r.finishReason, (e: { code?: number }) => e.code);
    assert.ok(outcome === 'cancelled' || outcome === -32800, String(outcome));
    assert.ok(performance.now() - t0 < 300, 'cancel took too long');
    h.settings.maxTokens = 64;
    await h.conn.sendNotification('workspace/didChangeConfiguration', { settings: {} });
    await new Promise((r) => setTimeout(r, 200));
  });

  test('generateFromComment streams and returns code for a Python comment', async () => {
    const uri = 'file:///work/project/gen.py';
    await h.open(uri, 'python', 'import os\n\n# return the names of the files in folder that end with .txt\n');
    const res = await h.conn.sendRequest<{ text: string; comment: string; range: unknown }>('neox/generateFromComment', {
      streamId: 'gc1',
      textDocument: { uri },
      position: { line: 3, character: 0 },
    });
    assert.equal(res.comment, 'return the names of the files in folder that end with .txt');
    const end = { line: 2, character: '# return the names of the files in folder that end with .txt'.length };
    assert.deepEqual(res.range, { start: end, end });
    assert.ok(res.text.startsWith('\n') && res.text.trim().length > 0, JSON.stringify(res.text));
    assert.ok(h.streams.some((s) => s.streamId === 'gc1' && s.delta.length > 0));
  });

  test('generateFile, chat, statistics, listModels and events', async () => {
    const file = await h.conn.sendRequest<{ text: string }>('neox/generateFile', {
      streamId: 'gf1',
      description: 'A stack of integers backed by an array.',
      fileName: 'Stack.java',
    });
    assert.ok(file.text.startsWith('// A stack of integers backed by an array.\n'));
    assert.ok(file.text.length > 50);
    assert.ok(h.streams.some((s) => s.streamId === 'gf1'));
    const reply = await h.conn.sendRequest<{ content: string; finishReason: string }>('neox/chat', {
      streamId: 'c1',
      messages: [{ role: 'user', content: 'Write a Python function that adds two numbers.' }],
      context: [{ fileName: 'a.py', languageId: 'python', text: 'x = 1' }],
    });
    assert.equal(typeof reply.content, 'string');
    const uri = 'file:///work/project/stats.py';
    await h.open(uri, 'python', 'import os\nprint(');
    await h.inline(uri, { line: 1, character: 6 }, { invoked: true });
    await h.conn.sendNotification('neox/completionEvent', { completionId: 'x', kind: 'shown' });
    await h.conn.sendNotification('neox/completionEvent', { completionId: 'x', kind: 'accepted' });
    const stats = await h.conn.sendRequest<{ shown: number; accepted: number; requests: number; latencyMs: { p50: number; count: number } }>(
      'neox/getStatistics',
    );
    assert.ok(stats.shown >= 1 && stats.accepted >= 1 && stats.requests > 0 && stats.latencyMs.count > 0 && stats.latencyMs.p50 >= 0, JSON.stringify(stats));
    const models = await h.conn.sendRequest<{ models: { id: string; backend: string }[] }>('neox/listModels');
    assert.ok(models.models.some((m) => m.backend === 'local' && m.id.endsWith('neox-code-23m')));
  });
});
