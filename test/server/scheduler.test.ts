// Scheduler logic: debounce, LRU, typed-through, activity and the CompletionService's cancellation.
// The service tests use a TEST DOUBLE backend (ScriptedBackend below), clearly not the engine:
// it streams a fixed script one "token" every few ms and honours the AbortSignal between
// tokens, which is exactly the contract of CompletionBackend these tests exercise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CompletionBackend, CompletionRequest, CompletionResult, ModelInfo, TextChunk } from '../../engine/types';
import { CompletionService, isComplete, type CompletionSettings } from '../../server/completion-service';
import { AdaptiveDebounce, sleep } from '../../server/scheduler/debounce';
import { Activity } from '../../server/scheduler/activity';
import { LruCache } from '../../server/scheduler/lru';
import { TypedThrough } from '../../server/scheduler/typed-through';
import { Statistics } from '../../server/stats';

test('AdaptiveDebounce: fixed setting, auto follows latency within bounds', () => {
  const d = new AdaptiveDebounce(120);
  assert.equal(d.delayMs, 120);
  d.setting = 'auto';
  assert.equal(d.delayMs, 75);
  for (let i = 0; i < 20; i++) d.observe(60);
  assert.equal(d.delayMs, 30);
  for (let i = 0; i < 20; i++) d.observe(2000);
  assert.equal(d.delayMs, 250);
  for (let i = 0; i < 30; i++) d.observe(1);
  assert.equal(d.delayMs, 20);
});

test('sleep: resolves false as soon as the signal aborts', async () => {
  const c = new AbortController();
  const p = sleep(1000, c.signal);
  setTimeout(() => c.abort(), 10);
  // Timers fire in expiry order however loaded the machine is: the abort at 10 ms comes before a
  // 900 ms timer, so a sleep that ignored its signal would lose this race (an ordering, not a clock).
  const first = await Promise.race([p, new Promise((r) => setTimeout(() => r('900 ms timer'), 900))]);
  assert.equal(first, false);
  assert.equal(await sleep(1, new AbortController().signal), true);
});

test('LruCache: evicts the least recently used', () => {
  const c = new LruCache<string, number>(2);
  c.set('a', 1);
  c.set('b', 2);
  c.get('a');
  c.set('c', 3);
  assert.equal(c.get('b'), undefined);
  assert.equal(c.get('a'), 1);
  assert.equal(c.get('c'), 3);
});

test('TypedThrough: answers while typed text matches, not after divergence or suffix change', () => {
  const t = new TypedThrough();
  t.remember({ uri: 'u', prefix: 'x = ', suffix: '\n', texts: ['foo(1)', 'fob()'], completionId: 'id1' });
  assert.deepEqual(t.match('u', 'x = fo', '\n')?.texts, ['o(1)', 'b()']);
  assert.deepEqual(t.match('u', 'x = foo', '\n')?.texts, ['(1)']);
  assert.equal(t.match('u', 'x = foo(1)', '\n'), undefined); // fully typed: nothing left
  assert.equal(t.match('u', 'x = q', '\n'), undefined);
  assert.equal(t.match('u', 'x = f', ')\n'), undefined);
  assert.equal(t.match('u', 'x = ', '\n'), undefined);
  assert.equal(t.match('v', 'x = f', '\n'), undefined);
});

// ---------------- TEST DOUBLE (not the engine) ----------------
class ScriptedBackend implements CompletionBackend {
  running = 0;
  calls: CompletionRequest[] = [];
  /** Per call: tokens emitted so far, and when the call started (performance.now()). */
  emitted: number[] = [];
  startedAt: number[] = [];
  private startWaiters: { n: number; resolve: () => void }[] = [];
  constructor(
    private readonly script: string[],
    private readonly msPerToken = 5,
  ) {}
  async load(): Promise<ModelInfo> {
    return { id: 'scripted', backend: 'local', contextLength: 2048, serializesGenerations: false, canEmbed: false };
  }
  /** Resolves once `complete` has been called `n` times: tests wait on this event, not on a poll. */
  started(n = 1): Promise<void> {
    if (this.calls.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.startWaiters.push({ n, resolve }));
  }
  async complete(req: CompletionRequest, onChunk?: (c: TextChunk) => void): Promise<CompletionResult> {
    const call = this.calls.push(req) - 1;
    this.emitted[call] = 0;
    this.startedAt[call] = performance.now();
    for (const w of this.startWaiters.filter((w) => this.calls.length >= w.n)) w.resolve();
    this.running++;
    try {
      let text = '';
      for (const tok of this.script) {
        if (req.signal?.aborted) return { choices: [{ index: 0, text, finishReason: 'cancelled' }], usage: { promptTokens: 1, completionTokens: 0 } };
        await new Promise((r) => setTimeout(r, this.msPerToken));
        const stopAt = (req.stop ?? []).map((s) => (text + tok).indexOf(s)).filter((i) => i >= 0);
        if (stopAt.length) {
          const cut = (text + tok).slice(0, Math.min(...stopAt));
          onChunk?.({ index: 0, text: cut.slice(text.length) });
          return { choices: [{ index: 0, text: cut, finishReason: 'stop' }], usage: { promptTokens: 1, completionTokens: 1 } };
        }
        text += tok;
        this.emitted[call]!++;
        onChunk?.({ index: 0, text: tok });
      }
      return { choices: [{ index: 0, text, finishReason: 'length' }], usage: { promptTokens: 1, completionTokens: 1 } };
    } finally {
      this.running--;
    }
  }
  chat(): Promise<CompletionResult> {
    throw new Error('not used');
  }
  async countTokens(text: string): Promise<number> {
    return Math.ceil(text.length / 4);
  }
  async health() {
    return { ok: true };
  }
  async dispose() {}
}

const SETTINGS: CompletionSettings = { maxTokens: 64, temperature: 0, contextBudget: 1024, candidates: 1, maxLines: 12, crossFileContext: true, debounceMs: 0 };

function service(backend: ScriptedBackend, settings: Partial<CompletionSettings> = {}, hooks: { onDebounce?: (ms: number) => void } = {}) {
  const stats = new Statistics();
  const svc = new CompletionService({
    ready: async () => ({ backend, info: await backend.load() }),
    countTokens: (t) => backend.countTokens(t),
    settings: () => ({ ...SETTINGS, ...settings }),
    stats,
    ...hooks,
  });
  svc.setDebounce(settings.debounceMs ?? 0);
  return { svc, stats };
}

const req = (text: string, extra: Partial<{ invoked: boolean; uri: string }> = {}) => ({
  uri: extra.uri ?? 'file:///a.py',
  path: 'a.py',
  languageId: 'python',
  text,
  offset: text.length,
  invoked: extra.invoked ?? false,
});

// The first request of a process also starts the tree-sitter worker (seconds on a cold, slow
// machine), so these tests wait for the backend's start event rather than polling for a while.
test('CompletionService: a newer request aborts the running generation between tokens', async () => {
  const SCRIPT = 200;
  const backend = new ScriptedBackend(Array.from({ length: SCRIPT }, (_, i) => `t${i}`), 5);
  const { svc } = service(backend);
  const first = svc.complete(req('def f(x):\n    return x'));
  await backend.started(1);
  assert.equal(svc.inFlight, 1);
  const emittedWhenSuperseded = backend.emitted[0]!;
  const second = svc.complete(req('def f(x):\n    return x +'));
  const a = await first;
  assert.equal(a.source, 'cancelled');
  assert.deepEqual(a.finishReasons, ['cancelled'], 'the backend saw the abort');
  // Between two tokens: at most the token already under way when the newer request came.
  assert.ok(backend.emitted[0]! <= emittedWhenSuperseded + 1, `outdated generation went on for ${backend.emitted[0]} tokens`);
  const b = await second;
  assert.equal(b.source, 'generated');
  assert.equal(backend.calls.length, 2);
  assert.equal(backend.emitted[1], SCRIPT, 'the newer generation ran to its end');
  assert.equal(svc.inFlight, 0);
});

test('CompletionService: the client cancelling stops the generation', async () => {
  const backend = new ScriptedBackend(Array.from({ length: 200 }, () => 'x'), 5);
  const { svc } = service(backend);
  const c = new AbortController();
  const p = svc.complete(req('a = '), c.signal);
  await backend.started(1);
  const emittedWhenCancelled = backend.emitted[0]!;
  c.abort();
  const a = await p;
  assert.equal(a.source, 'cancelled');
  assert.deepEqual(a.finishReasons, ['cancelled']);
  assert.ok(backend.emitted[0]! <= emittedWhenCancelled + 1, `generation went on for ${backend.emitted[0]} tokens after the cancel`);
  assert.equal(svc.inFlight, 0);
});

test('CompletionService: early stop once the block is complete, cache hit, typed-through', async () => {
  const backend = new ScriptedBackend(['\n', '    ', 'return', ' x', '\n', 'def', ' g', '():', '\n', '    pass', '\n'].concat(Array(50).fill('# filler\n')), 2);
  const { svc, stats } = service(backend);
  const text = 'def f(x):';
  const a = await svc.complete(req(text));
  assert.equal(a.source, 'generated');
  assert.deepEqual(a.texts, ['\n    return x']);
  // Stopped right after the dedented line, long before the 61-token script ended.
  assert.ok(backend.calls.length === 1);
  const b = await svc.complete(req(text));
  assert.equal(b.source, 'cache');
  assert.deepEqual(b.texts, a.texts);
  const c = await svc.complete(req(text + '\n    ret'));
  assert.equal(c.source, 'typedThrough');
  assert.deepEqual(c.texts, ['urn x']);
  assert.equal(backend.calls.length, 1, 'cache and typed-through did not generate');
  const s = stats.snapshot();
  assert.equal(s.requests, 3);
  assert.equal(s.cacheHits, 1);
  assert.equal(s.typedThroughHits, 1);
});

test('CompletionService: trailing spaces are not sent to the model and not doubled in the result', async () => {
  const backend = new ScriptedBackend([' value', ' + 1', '\n'], 1);
  const { svc } = service(backend);
  const a = await svc.complete(req('x = '));
  assert.equal(backend.calls[0]!.prompt.endsWith('x ='), true);
  assert.deepEqual(a.texts, ['value + 1']);
});

test('CompletionService: on an empty line, blank lines the model starts with are dropped', async () => {
  const backend = new ScriptedBackend(['\n', '\n', '    ', 'return', ' 1', '\n'], 1);
  const { svc } = service(backend);
  const a = await svc.complete(req('def f():\n    '));
  assert.ok(backend.calls[0]!.prompt.endsWith('def f():\n'));
  assert.deepEqual(a.texts, ['return 1']);
});

test('CompletionService: a multi-line suggestion cut by maxTokens loses its unfinished last line', async () => {
  const backend = new ScriptedBackend(['\n', '    a = 1', '\n', '    b = fun', 'ction('], 1);
  const { svc } = service(backend, { maxTokens: 5 });
  const a = await svc.complete(req('def f():'));
  assert.deepEqual(a.texts, ['\n    a = 1']);
});

test('CompletionService: debounce waits before generating, and a newer keystroke skips the generation', async () => {
  const DEBOUNCE = 60;
  const backend = new ScriptedBackend(['1', '\n'], 1);
  const waits: number[] = [];
  let nextWait: (() => void) | undefined;
  const { svc } = service(backend, { debounceMs: DEBOUNCE }, { onDebounce: (ms) => (waits.push(ms), nextWait?.()) });
  const waiting = new Promise<void>((r) => (nextWait = r));
  const p1 = svc.complete(req('a = '));
  await waiting; // the service's event: p1 is now in its debounce wait
  assert.deepEqual(waits, [DEBOUNCE]);
  assert.equal(backend.calls.length, 0, 'the first keystroke does not generate while it waits');
  nextWait = undefined;
  const t2 = performance.now();
  const p2 = svc.complete(req('a = b'));
  assert.equal((await p1).source, 'cancelled');
  assert.equal((await p2).source, 'generated');
  assert.equal(backend.calls.length, 1, 'only the last keystroke generated');
  assert.ok(backend.calls[0]!.prompt.endsWith('a = b'));
  assert.deepEqual(waits, [DEBOUNCE, DEBOUNCE]);
  // A lower bound only (a loaded machine makes it later, never earlier); Node may fire a timer
  // up to 1 ms before its nominal time because of millisecond rounding.
  assert.ok(backend.startedAt[0]! - t2 >= DEBOUNCE - 1, `generated ${(backend.startedAt[0]! - t2).toFixed(1)} ms after the keystroke`);
});

test('isComplete: single line at newline, multi-line at dedent', () => {
  const ctx = { languageId: 'python', prefix: 'def f():', suffix: '', multiline: true, maxLines: 12 };
  assert.equal(isComplete('\n    a = 1\n', ctx), false);
  assert.equal(isComplete('\n    a = 1\nprint(a)\n', ctx), true);
  assert.equal(isComplete('abc\n', { ...ctx, multiline: false }), true);
});

test('CompletionService: an invoked request asks for several candidates (sampling), automatic for one', async () => {
  const backend = new ScriptedBackend([' 1', '\n'], 1);
  const { svc } = service(backend, { candidates: 3 });
  await svc.complete(req('a =', { invoked: true }));
  await svc.complete(req('b =', { invoked: false }));
  assert.equal(backend.calls[0]!.n, 3);
  assert.ok((backend.calls[0]!.temperature ?? 0) > 0);
  assert.equal(backend.calls[1]!.n, 1);
  assert.equal(backend.calls[1]!.temperature, 0);
});

test('Activity: counts overlapping runs, busy from the first start to the last end, also after a throw', async () => {
  const busy: boolean[] = [];
  const a = new Activity((b) => busy.push(b));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const long = a.run(() => gate);
  const failing = a.run(async () => Promise.reject(new Error('boom')));
  await assert.rejects(failing);
  assert.equal(a.running, 1);
  assert.deepEqual(busy, [true]);
  release();
  await long;
  assert.equal(a.running, 0);
  assert.deepEqual(busy, [true, false]);
});
