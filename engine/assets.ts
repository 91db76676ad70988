/**
 * Where the package's files are at run time. The same code runs from the TypeScript sources (tests,
 * tsx: this file is engine/assets.ts) and inlined into each esbuild bundle in dist/ (extension.cjs,
 * server.mjs, neox.mjs, engine-worker.mjs), which sit at different depths, so every path is found
 * from where this module runs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import WORKER_SCRIPTS from './worker-scripts.json';

/** This module's URL: import.meta.url is empty in the CommonJS bundle (the extension host), __filename is not. */
function moduleUrl(): string {
  return typeof import.meta.url === 'string' && import.meta.url ? import.meta.url : pathToFileURL(__filename).href;
}

let root: string | undefined;

/** The installed package's root folder: the nearest one above this module whose package.json is "neox-complete". */
export function packageRoot(): string {
  if (root) return root;
  const start = dirname(fileURLToPath(moduleUrl()));
  for (let dir = start; ; dir = dirname(dir)) {
    if (isOurPackage(join(dir, 'package.json'))) return (root = dir);
    if (dirname(dir) === dir) throw new Error(`neox: cannot find the neox-complete package root above ${start}`);
  }
}

function isOurPackage(file: string): boolean {
  if (!existsSync(file)) return false;
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'neox-complete';
  } catch {
    return false; // not ours (or unreadable): keep walking up
  }
}

/** A file shipped with the package, by its path under the package root. */
export function assetPath(...parts: string[]): string {
  return join(packageRoot(), ...parts);
}

/** The embedded default model, models/neox-code-23m. */
export function defaultModelDir(): string {
  return assetPath('models', 'neox-code-23m');
}

/** A worker thread's script, as `new Worker(script, { eval })` takes it. */
export interface WorkerScript {
  script: string | URL;
  eval: boolean;
}

/** The worker threads, named in worker-scripts.json, from which esbuild.mjs also builds their bundles. */
export type WorkerName = keyof typeof WORKER_SCRIPTS;

/**
 * The script of worker `name`: its TypeScript source when running from sources, else its bundle next
 * to this one in dist/; undefined when that bundle was not built.
 */
export function workerScript(name: WorkerName): WorkerScript | undefined {
  const { source, bundle } = WORKER_SCRIPTS[name];
  const here = moduleUrl();
  if (here.endsWith('.ts')) {
    // A worker does not inherit tsx's loader hooks in Node 20: a bootstrap registers tsx, then imports the source.
    const api = import.meta.resolve('tsx/esm/api');
    const worker = pathToFileURL(assetPath(source)).href;
    return { script: `import(${JSON.stringify(api)}).then(({ register }) => { register(); return import(${JSON.stringify(worker)}); });`, eval: true };
  }
  const url = new URL(`./${bundle}`, here);
  return existsSync(fileURLToPath(url)) ? { script: url, eval: false } : undefined;
}
