/**
 * tree-sitter (web-tree-sitter 0.22 + the prebuilt grammars of tree-sitter-wasms), used to
 * tell whether the cursor sits in a comment or string.
 *
 * Parsing runs in a worker thread with a deadline: a grammar that loops forever on some input
 * (it happens, see syntax-parse.ts) costs one request its tree-sitter answer, not the server.
 * On a timeout the worker is terminated, the grammar rests for a while, and callers fall back
 * to line heuristics (`undefined`).
 *
 * The wasm files are looked up next to this module (dist/: esbuild.mjs copies web-tree-sitter's
 * tree-sitter.wasm to dist/ and tree-sitter-wasms/out/*.wasm to dist/grammars/) and in
 * node_modules (running from sources).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { workerScript } from '../engine/index';
import { languageSpec } from './language';
import type { CursorSyntax } from './syntax-parse';
import type { SyntaxJob } from './syntax-worker';

export type { CursorSyntax } from './syntax-parse';

const hereUrl = typeof import.meta.url === 'string' && import.meta.url ? import.meta.url : pathToFileURL(__filename).href;
const here = dirname(fileURLToPath(hereUrl));
const require = createRequire(hereUrl);

function packageDir(name: string): string | undefined {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}

function firstExisting(paths: (string | undefined)[]): string | undefined {
  return paths.find((p): p is string => !!p && existsSync(p));
}

export function runtimeWasmPath(): string | undefined {
  const pkg = packageDir('web-tree-sitter');
  return firstExisting([join(here, 'tree-sitter.wasm'), pkg && join(pkg, 'tree-sitter.wasm')]);
}

export function grammarWasmPath(grammar: string): string | undefined {
  const file = `tree-sitter-${grammar}.wasm`;
  const pkg = packageDir('tree-sitter-wasms');
  return firstExisting([join(here, 'grammars', file), pkg && join(pkg, 'out', file)]);
}

/** syntax-worker.ts under tsx (sources), syntax-worker.mjs next to the bundle (dist/). */
/** First answer of a fresh worker includes loading wasm; later ones are a parse. */
const FIRST_DEADLINE_MS = 3000;
const DEADLINE_MS = 250;
const REST_AFTER_TIMEOUT_MS = 30_000;

interface SyntaxWorker {
  thread: Worker;
  warm: boolean;
  /** Jobs of this thread only: a terminated thread must not answer for its successor's. */
  pending: Map<number, (r: CursorSyntax | undefined) => void>;
}

let worker: SyntaxWorker | undefined;
let nextId = 1;
const restingUntil = new Map<string, number>();

function ensureWorker(): SyntaxWorker | undefined {
  if (worker) return worker;
  const entry = workerScript('syntax');
  if (!entry) return undefined;
  const w: SyntaxWorker = { thread: new Worker(entry.script, { eval: entry.eval }), warm: false, pending: new Map() };
  w.thread.on('message', (m: { id: number; result?: CursorSyntax; error?: string }) => {
    w.warm = true;
    w.pending.get(m.id)?.(m.result);
    w.pending.delete(m.id);
  });
  const fail = () => {
    if (worker === w) worker = undefined;
    for (const [, resolve] of w.pending) resolve(undefined);
    w.pending.clear();
  };
  w.thread.on('error', fail);
  w.thread.on('exit', fail);
  // An idle parser must not keep the process alive (after the listeners: adding one re-refs).
  w.thread.unref();
  worker = w;
  return w;
}

/** Stop the worker (server shutdown, tests). */
export async function stopSyntaxWorker(): Promise<void> {
  const w = worker;
  worker = undefined;
  await w?.thread.terminate();
}

/**
 * Syntax facts at `offset` in `text`, or undefined when no grammar exists for the language or
 * tree-sitter did not answer in time. Only a window around the cursor is parsed (`maxChars`
 * before it): enough for the node at the cursor, and the parse stays small on big files.
 */
export async function cursorSyntax(text: string, offset: number, languageId: string, maxChars = 20_000): Promise<CursorSyntax | undefined> {
  const grammar = languageSpec(languageId).grammar;
  if (!grammar || (restingUntil.get(grammar) ?? 0) > Date.now()) return undefined;
  const runtimeWasm = runtimeWasmPath();
  const grammarWasm = grammarWasmPath(grammar);
  if (!runtimeWasm || !grammarWasm) return undefined;
  const w = ensureWorker();
  if (!w) return undefined;
  // Start at a line boundary so row/column stay meaningful.
  let start = Math.max(0, offset - maxChars);
  if (start > 0) start = text.indexOf('\n', start) + 1 || start;
  const end = Math.min(text.length, offset + 2_000);
  const job: SyntaxJob = { id: nextId++, runtimeWasm, grammarWasm, src: text.slice(start, end), cursor: offset - start };
  const deadline = w.warm ? DEADLINE_MS : FIRST_DEADLINE_MS;
  return new Promise<CursorSyntax | undefined>((resolve) => {
    const timer = setTimeout(() => {
      if (!w.pending.has(job.id)) return;
      w.pending.delete(job.id);
      restingUntil.set(grammar, Date.now() + REST_AFTER_TIMEOUT_MS);
      // The parser is stuck in wasm: only terminating the thread stops it.
      if (worker === w) worker = undefined;
      void w.thread.terminate();
      resolve(undefined);
    }, deadline);
    w.pending.set(job.id, (r) => {
      clearTimeout(timer);
      resolve(r);
    });
    w.thread.postMessage(job);
  });
}
