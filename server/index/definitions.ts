/**
 * Definitions of a file for the index, from tree-sitter in a worker thread of its own (parsing whole
 * files must not delay the cursor parses of syntax.ts). A parse past its deadline terminates the
 * worker and leaves the file to line windows; the next file gets a fresh worker.
 */
import { Worker } from 'node:worker_threads';
import { workerScript } from '../../engine/index';
import { languageSpec } from '../language';
import { grammarWasmPath, runtimeWasmPath } from '../syntax';
import type { Definition } from './definitions-parse';
import type { DefinitionsJob } from './definitions-worker';

export type { Definition } from './definitions-parse';

/** A fresh worker loads the runtime and the grammar first. */
const FIRST_DEADLINE_MS = 5000;
const DEADLINE_MS = 2000;

interface ParseWorker {
  thread: Worker;
  warm: boolean;
  pending: Map<number, (d: Definition[] | undefined) => void>;
}

let worker: ParseWorker | undefined;
let nextId = 1;

function ensureWorker(): ParseWorker | undefined {
  if (worker) return worker;
  const entry = workerScript('index-definitions');
  if (!entry) return undefined;
  const w: ParseWorker = { thread: new Worker(entry.script, { eval: entry.eval }), warm: false, pending: new Map() };
  w.thread.on('message', (m: { id: number; defs?: Definition[] }) => {
    w.warm = true;
    w.pending.get(m.id)?.(m.defs);
    w.pending.delete(m.id);
  });
  const fail = () => {
    if (worker === w) worker = undefined;
    for (const [, resolve] of w.pending) resolve(undefined);
    w.pending.clear();
  };
  w.thread.on('error', fail);
  w.thread.on('exit', fail);
  w.thread.unref();
  worker = w;
  return w;
}

export async function stopDefinitionsWorker(): Promise<void> {
  const w = worker;
  worker = undefined;
  await w?.thread.terminate();
}

/** The file's definitions, or undefined (no grammar for the language, a parse error or timeout). */
export async function definitionsOf(text: string, languageId: string): Promise<Definition[] | undefined> {
  const grammar = languageSpec(languageId).grammar;
  const runtimeWasm = runtimeWasmPath();
  const grammarWasm = grammar && grammarWasmPath(grammar);
  if (!runtimeWasm || !grammarWasm) return undefined;
  const w = ensureWorker();
  if (!w) return undefined;
  const job: DefinitionsJob = { id: nextId++, runtimeWasm, grammarWasm, src: text };
  const deadline = w.warm ? DEADLINE_MS : FIRST_DEADLINE_MS;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      if (!w.pending.delete(job.id)) return;
      if (worker === w) worker = undefined;
      void w.thread.terminate();
      resolve(undefined);
    }, deadline);
    w.pending.set(job.id, (d) => {
      clearTimeout(timer);
      resolve(d);
    });
    w.thread.postMessage(job);
  });
}
