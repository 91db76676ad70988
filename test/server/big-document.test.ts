/**
 * A 5 MB single-line document (a minified bundle) in the real language server (stdio, the
 * embedded default model), issue 12 finding 2: the server used to tokenize the whole document on
 * its main thread, so the first completion took ~20 s, a `neox/getStatus` sent meanwhile waited
 * ~15 s, and ~300 MB stayed in the process after the document was closed.
 *
 * What it checks:
 * - `neox/getStatus`, polled every ~20 ms from before the didOpen until after the didClose,
 *   answers every time within 200 ms. The handler does no work (it returns the status object it
 *   holds), so any delay is the event loop being blocked by something else: exactly what this
 *   catches. 200 ms is safe on a shared 2-core machine: a scheduler hiccup or a garbage
 *   collection costs tens of ms, the ONNX generation runs in its worker thread, and the parts the
 *   main thread does per request are bounded (a few thousand characters tokenized, windows of the
 *   document searched); the old code blocked for ~15 s, two orders of magnitude above the bound.
 * - the inline completion at the very end of the document comes back (items, or an empty list
 *   when the model had nothing) or is refused with a clear reason, never an internal error;
 * - the log says once that the document is too big for cross-file snippets;
 * - after the didClose the server's heap (after a full garbage collection, through the test-only
 *   neox/debug/memory) is back near where it started, and its RSS has not kept the document.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ResponseError } from 'vscode-languageserver-protocol';
import { DebugMemoryRequest, type MemoryResult } from '../../protocol/debug';
import { startServer, type Harness } from './lsp-harness';

const MB = 1024 * 1024;
const POLL_MS = 20;
const STATUS_BOUND_MS = 200;

/** ~`size` characters of minified JavaScript on one line, varied enough that BPE does real work. */
function minifiedBundle(size: number): string {
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const names = Array.from({ length: 50_000 }, (_, i) => `${'abcdefghijklmnopqrstuvwxyz'[i % 26]}${i.toString(36)}`);
  const parts: string[] = [];
  let n = 0;
  while (n < size) {
    const a = names[rnd(names.length)]!;
    const b = names[rnd(names.length)]!;
    const p =
      rnd(4) === 0
        ? `function ${a}(${b},e){return ${b}.map(function(t){return t*${rnd(1000)}+e})}`
        : rnd(3) === 0
          ? `var ${a}={${b}:"${b}-${rnd(99999)}",n:${rnd(1e6)}};`
          : `${a}.prototype.${b}=function(){if(this.${b}>${rnd(100)})return this.${a}(${rnd(50)});};`;
    parts.push(p);
    n += p.length;
  }
  return parts.join('') + 'var result=';
}

let h: Harness;
before(async () => {
  h = await startServer();
  await h.waitReady();
});
after(async () => {
  await h?.close();
});

test('a 5 MB single-line document: status answers within 200 ms throughout, the completion comes back, memory returns after close', async () => {
  // Warm-up on a 40 KB document whose prompt fills the whole context budget: model (its buffers for a
  // full-length prompt), tokenizer, syntax worker and caches reach their working size first, so what
  // is measured below is what the big document adds.
  const small = 'file:///work/project/small.min.js';
  const smallText = minifiedBundle(40_000);
  await h.open(small, 'javascript', smallText);
  await h.inline(small, { line: 0, character: smallText.length }, { invoked: true });
  await h.conn.sendNotification('textDocument/didClose', { textDocument: { uri: small } });
  const memory = (): Promise<MemoryResult> => h.conn.sendRequest(DebugMemoryRequest, { gc: true });
  const start = await memory();
  assert.ok(start.collected, 'the test hook can run a full garbage collection');

  // Poll neox/getStatus every ~20 ms (one at a time) and record each round trip.
  const latencies: { at: string; ms: number }[] = [];
  let phase = 'open';
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const t0 = performance.now();
      await h.conn.sendRequest('neox/getStatus');
      latencies.push({ at: phase, ms: performance.now() - t0 });
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  })();
  // Let a few polls establish the idle round trip first.
  await new Promise((r) => setTimeout(r, 5 * POLL_MS));

  const text = minifiedBundle(5 * MB);
  const uri = 'file:///work/project/bundle.min.js';
  const t0 = performance.now();
  await h.open(uri, 'javascript', text);
  phase = 'completion';
  let outcome: string;
  try {
    const r = await h.inline(uri, { line: 0, character: text.length }, { invoked: true });
    assert.ok(r && Array.isArray(r.items), `an inline completion list, got ${JSON.stringify(r)}`);
    outcome = `${r.items.length} item(s)${r.items.length ? `: ${JSON.stringify(r.items[0]!.insertText)}` : ''}`;
  } catch (e) {
    // A refusal is allowed, with a clear reason; an internal error (-32603) is not.
    assert.ok(e instanceof ResponseError, String(e));
    assert.notEqual(e.code, -32603, `internal error: ${e.message}`);
    assert.match(e.message, /document|large|size|long/i, `refused without a clear reason: ${e.message}`);
    outcome = `refused: ${e.message}`;
  }
  const completionMs = performance.now() - t0;
  const during = await memory();

  phase = 'close';
  await h.conn.sendNotification('textDocument/didClose', { textDocument: { uri } });
  await new Promise((r) => setTimeout(r, 10 * POLL_MS));
  polling = false;
  await poller;
  const end = await memory();

  const worst = latencies.reduce((w, l) => (l.ms > w.ms ? l : w), { at: '', ms: 0 });
  const mb = (b: number) => `${(b / MB).toFixed(1)} MB`;
  console.log(
    `completion ${completionMs.toFixed(0)} ms (${outcome}); ${latencies.length} status polls, worst ${worst.ms.toFixed(1)} ms (${worst.at}); ` +
      `heap ${mb(start.heapUsed)} -> ${mb(during.heapUsed)} -> ${mb(end.heapUsed)}, rss ${mb(start.rss)} -> ${mb(during.rss)} -> ${mb(end.rss)}`,
  );
  assert.ok(latencies.filter((l) => l.at === 'completion').length > 0, 'status was polled while the completion ran');
  // Too big for cross-file snippets: said once in the log.
  assert.equal(h.logs.filter((l) => /bundle\.min\.js is 5\.\d MB .*not indexed/.test(l)).length, 1, h.logs.join('\n'));
  assert.ok(worst.ms < STATUS_BOUND_MS, `neox/getStatus took ${worst.ms.toFixed(0)} ms during the ${worst.at} (bound ${STATUS_BOUND_MS} ms)`);
  // The document itself is 5 MB (10 MB as the LSP message's JSON and the TextDocument's copy): after
  // the close and a full collection, the heap holds none of it.
  assert.ok(end.heapUsed - start.heapUsed < 8 * MB, `heap kept ${mb(end.heapUsed - start.heapUsed)} after the close`);
  // RSS: freed pages go back to the system lazily (the allocator keeps the arenas of the 10 MB message); the
  // retained document and token arrays this guards against kept about 300 MB.
  assert.ok(end.rss - start.rss < 160 * MB, `RSS kept ${mb(end.rss - start.rss)} after the close`);
});
