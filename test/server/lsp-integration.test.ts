// The real server (server/server.ts over stdio, or dist/server.mjs with NEOX_SERVER=dist) with the
// real default model, driven by a vscode-jsonrpc client the way an editor drives it.
import { after, before, describe, test as nodeTest } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { postprocess } from '../../server/postprocess/index';
import { CancellationTokenSource, ROOT, startServer, type Harness } from './lsp-harness';
import { DebugInFlightRequest, DebugLastCompletionRequest } from '../../protocol/debug';

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

/** The items' texts, asserting there is at least one and none is blank. */
function itemTexts(r: { items: { insertText: string | { value: string } }[] } | null, what: string): string[] {
  assert.ok(r && r.items.length > 0, `${what}: no items`);
  const texts = r.items.map((i) => (typeof i.insertText === 'string' ? i.insertText : i.insertText.value));
  for (const t of texts) assert.ok(t.trim().length > 0, `${what}: blank item ${JSON.stringify(t)}`);
  return texts;
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

  test('a request cancelled mid-generation stops the engine between tokens and the next one works', async () => {
    // Greedy (an automatic request, temperature 0): this context runs to the full 512 tokens
    // (seconds) without closing a block, so the cancel certainly lands mid-generation.
    const uri = 'file:///work/project/cancel.py';
    const text = '"""Matrix utilities."""\nimport math\n\n';
    const at = { line: 3, character: 0 };
    await h.open(uri, 'python', text);
    await h.applySettings({ maxTokens: 512, maxLines: 400 });
    const statsBefore = await h.conn.sendRequest<{ requests: number }>('neox/getStatistics');
    const cts = new CancellationTokenSource();
    const since = h.statuses.length;
    const pending = h.inline(uri, at, { token: cts });
    // The server's event: the generation has started.
    await h.waitStatus((s) => s.state === 'generating', { since });
    const running = await h.conn.sendRequest(DebugInFlightRequest);
    assert.deepEqual(running, { inFlight: 1, lockRunning: 1 }, 'generation should be running when cancelled');
    cts.cancel();
    await assert.rejects(pending, (e: { code?: number }) => e.code === -32800);
    // The engine itself stopped because of the cancel (not at its 512-token limit), and nothing
    // is left running or counted as an answer.
    const last = await h.conn.sendRequest(DebugLastCompletionRequest);
    assert.equal(last.source, 'cancelled');
    assert.deepEqual(last.finishReasons, ['cancelled'], JSON.stringify(last));
    const idle = await h.conn.sendRequest(DebugInFlightRequest);
    assert.deepEqual(idle, { inFlight: 0, lockRunning: 0 });
    const statsAfter = await h.conn.sendRequest<{ requests: number }>('neox/getStatistics');
    assert.equal(statsAfter.requests, statsBefore.requests);
    await h.applySettings({ maxTokens: 64, maxLines: 12 });
    const next = await h.inline(uri, at);
    itemTexts(next, 'after the cancellation');
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
    // Still serving: a fresh context at the end of the function (greedy, deterministic) gets a suggestion.
    text += '\n  return ';
    await h.change(uri, text);
    const r = await h.inline(uri, { line: text.split('\n').length - 1, character: text.split('\n').at(-1)!.length });
    itemTexts(r, 'after the burst');
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
    await h.applySettings({ modelPath: '/nonexistent/model-folder' });
    await assert.rejects(h.inline(uri, { line: 1, character: 0 }, { invoked: true }), (e: { message: string }) =>
      e.message.includes('/nonexistent/model-folder'),
    );
    const status = await h.conn.sendRequest<{ state: string; message?: string }>('neox/getStatus');
    assert.equal(status.state, 'error');
    assert.match(status.message ?? '', /\/nonexistent\/model-folder/);
    await h.applySettings({ modelPath: undefined });
    await h.waitReady(120_000);
    // Greedy: the embedded model completes this empty line after `x = 1`.
    const r = await h.inline(uri, { line: 1, character: 0 });
    itemTexts(r, 'after recovering');
    assert.equal(h.child.exitCode, null);
  });

  test('settings apply live: disabled languages get no items, status reports the model', async () => {
    const uri = 'file:///work/project/live.ts';
    await h.open(uri, 'typescript', 'const total = values.reduce(');
    // The same automatic (greedy) request each time: only the setting decides whether items come.
    await h.applySettings({ enabledLanguages: ['python'] });
    const off = await h.inline(uri, { line: 0, character: 28 });
    assert.deepEqual(off?.items, []);
    await h.applySettings({ enabledLanguages: undefined });
    const on = await h.inline(uri, { line: 0, character: 28 });
    itemTexts(on, 'typescript enabled again');
    assert.ok(h.statuses.some((s) => s.state === 'ready' && s.model.endsWith('neox-code-23m')));
  });

  test('a streaming request (generateFile) is cancellable mid-stream', async () => {
    await h.applySettings({ maxTokens: 1500 });
    const cts = new CancellationTokenSource();
    const pending = h.conn.sendRequest<{ text: string; finishReason: string }>(
      'neox/generateFile',
      { streamId: 'cancel-me', description: 'Utility functions for strings.', fileName: 'strings.py' },
      cts.token,
    );
    // Generated text (beyond the echoed description) has streamed: the generation is under way.
    await h.waitStream('cancel-me', 3);
    cts.cancel();
    const result = await pending;
    assert.equal(result.finishReason, 'cancelled');
    assert.ok(result.text.startsWith('# Utility functions for strings.\n'), JSON.stringify(result.text));
    // Nothing streams after the answer, and the engine is free: a request answered after it
    // (notifications arrive in order) sees no new delta and no generation holding the lock.
    const streamedAtAnswer = h.streams.filter((x) => x.streamId === 'cancel-me').length;
    assert.deepEqual(await h.conn.sendRequest(DebugInFlightRequest), { inFlight: 0, lockRunning: 0 });
    assert.equal(h.streams.filter((x) => x.streamId === 'cancel-me').length, streamedAtAnswer);
    await h.applySettings({ maxTokens: 64 });
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
    assert.ok(reply.content.trim().length > 0, 'empty chat reply');
    assert.notEqual(reply.finishReason, 'cancelled');
    // The 23M demonstration model writes weak prose; what is checked is that the answer is about
    // the question (names its subject), not any particular wording.
    assert.match(reply.content, /python|function|add|sum|number|def /i, JSON.stringify(reply.content));
    assert.ok(h.streams.some((s) => s.streamId === 'c1' && s.delta.trim().length > 0), 'the answer streamed');
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
