/**
 * Line completion through the real language server (over stdio, as the editor drives it) on real
 * multi-file code that no one here wrote: the TypeScript sources of two npm packages installed in
 * node_modules and the Python of a Debian-packaged library (none ship in node_modules), each copied
 * into a folder of its own and opened as the workspace. At lines sampled with a seed (code lines:
 * no blank, comment-only or punctuation-only lines, no docstring lines, none in generated or vendored files) the line is
 * emptied after its indentation, the cursor put there, and the first line of the server's greedy
 * suggestion compared with the real one: exact match and edit similarity (1 - Levenshtein distance
 * / length of the longer, CodeXGLUE's line-level measure), both after trimming blanks.
 *
 * The same lines under three configurations, so each part of the context pipeline is a measured
 * number: the workspace index on (related chunks of other files in the prompt), the index off
 * (snippets of open files only), and cross-file context off (the file's own code only). As an editor
 * would have them, the files the target file imports (up to IMPORTS_OPENED) are open beside it.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, normalize, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DebugLastCompletionRequest } from '../protocol/debug';
import type { NeoxSettings } from '../protocol/index';
import { ROOT, startServer, type Harness } from '../test/server/lsp-harness';
import { pct, seededRandom } from './serve-lib';

export interface CodeWorkspace {
  name: string;
  /** Where its sources are (relative to the repository root, or absolute). */
  source: string;
  /** Where they come from, for the report. */
  origin: string;
}

/** Real code, not written here: multi-file sources with imports between the files. */
export const WORKSPACES: CodeWorkspace[] = [
  { name: '@huggingface/hub', source: 'node_modules/@huggingface/hub/src', origin: 'npm @huggingface/hub (TypeScript sources it ships), a dependency' },
  { name: 'apache-arrow', source: 'node_modules/apache-arrow/src', origin: 'npm apache-arrow (TypeScript sources it ships), a dependency' },
  { name: 'oauthlib', source: '/usr/lib/python3/dist-packages/oauthlib', origin: 'Debian python3-oauthlib (Python), installed on this machine' },
];

export const CONFIGURATIONS = {
  /** The product's default: open-file snippets and related chunks from the workspace index. */
  'index-on': { crossFileContext: true, 'index.enabled': true },
  /** Open-file snippets only. */
  'index-off': { crossFileContext: true, 'index.enabled': false },
  /** The file's own code only. */
  'cross-file-off': { crossFileContext: false, 'index.enabled': false },
} as const;
export type Configuration = keyof typeof CONFIGURATIONS;

const LANGUAGES: Record<string, string> = { '.ts': 'typescript', '.py': 'python' };
/** Imported files opened beside the target, as an editor's tabs would be. */
const IMPORTS_OPENED = 3;
/** Files skipped for sampling: vendored or generated code, and the very large. */
const SKIP_PATH = /(^|\/)(vendor|fb|__pycache__|node_modules)\//;
const GENERATED = /@generated|automatically generated|do not edit/i;
const MAX_FILE_CHARS = 60_000;

export interface Sample {
  path: string;
  /** 0-based line. */
  line: number;
  indent: string;
  expected: string;
}

/** Source files of `dir`, as paths relative to it, sorted. */
function sourceFiles(dir: string, under = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, under), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = under ? `${under}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...sourceFiles(dir, rel));
    else if (LANGUAGES[extname(e.name)] && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** A line worth completing: code with at least one word of 3 characters, not a comment. */
export function isCodeLine(line: string, language: string): boolean {
  const t = line.trim();
  if (t.length < 4 || !/[\p{L}\p{N}_]{3}/u.test(t)) return false;
  const comment = language === 'python' ? /^(#|"""|''')/ : /^(\/\/|\/\*|\*)/;
  return !comment.test(t);
}

/** `perWorkspace` lines of `dir`, drawn with `seed` from every code line past the first three of each eligible file. */
export function sampleLines(dir: string, perWorkspace: number, seed: number): Sample[] {
  const pool: Sample[] = [];
  for (const path of sourceFiles(dir)) {
    if (SKIP_PATH.test(path)) continue;
    const text = readFileSync(join(dir, path), 'utf8');
    if (text.length > MAX_FILE_CHARS || GENERATED.test(text.slice(0, 500))) continue;
    const language = LANGUAGES[extname(path)]!;
    let inDocstring = false;
    text.split('\n').forEach((line, i) => {
      const wasInDocstring = inDocstring;
      // Python docstrings are prose: a line with an odd number of triple quotes opens or closes one.
      if (language === 'python' && (line.match(/"{3}|'{3}/g) ?? []).length % 2 === 1) inDocstring = !inDocstring;
      if (i >= 3 && !wasInDocstring && isCodeLine(line, language)) pool.push({ path, line: i, indent: /^\s*/.exec(line)![0], expected: line.trim() });
    });
  }
  const random = seededRandom(seed);
  // A partial Fisher-Yates shuffle: the first `perWorkspace` places.
  for (let i = 0; i < Math.min(perWorkspace, pool.length); i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, perWorkspace).sort((a, b) => a.path.localeCompare(b.path) || a.line - b.line);
}

/** Files `path` imports by a relative module path (TypeScript) or from its own package (Python), that exist in `dir`. */
export function importedFiles(dir: string, path: string, text: string): string[] {
  const found = new Set<string>();
  const exists = (p: string) => existsSync(join(dir, p)) && statSync(join(dir, p)).isFile();
  if (path.endsWith('.ts')) {
    for (const m of text.matchAll(/\bfrom\s+['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const base = normalize(join(dirname(path), m[1]!.replace(/\.js$/, '')));
      const hit = [`${base}.ts`, `${base}/index.ts`].find(exists);
      if (hit) found.add(hit);
    }
  } else {
    for (const m of text.matchAll(/^\s*from\s+(\.*)([\w.]*)\s+import/gm)) {
      const [, dots, module] = m as unknown as [string, string, string];
      const modulePath = module.replace(/\./g, '/');
      const base = normalize(dots ? join(dirname(path), '../'.repeat(dots.length - 1), modulePath) : modulePath).replace(/^\.\/?/, '').replace(/\/$/, '');
      const hit = [`${base}.py`, `${base ? `${base}/` : ''}__init__.py`].find(exists);
      if (hit) found.add(hit);
    }
  }
  found.delete(path);
  return [...found].slice(0, IMPORTS_OPENED);
}

/** Levenshtein distance over UTF-16 code units, two rows. */
export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

export function editSimilarity(a: string, b: string): number {
  const longer = Math.max(a.length, b.length);
  return longer === 0 ? 1 : 1 - levenshtein(a, b) / longer;
}

export interface LineResult {
  exactMatch: number;
  editSimilarity: number;
  /** Lines the server offered nothing for (counted as wrong). */
  empty: number;
  lines: number;
  latencyMsP50: number;
  /** Mean prompt size: the snippets from other files show here. */
  promptTokensMean: number;
}

const uriOf = (dir: string, path: string) => pathToFileURL(join(dir, path)).href;

/** The first line of the server's suggestion at each sample of `dir`, under one configuration. */
export async function completeLines(
  dir: string,
  samples: Sample[],
  configuration: Configuration,
  storage: string,
  settings: Partial<NeoxSettings> & Record<string, unknown>,
): Promise<{ suggestions: string[]; latenciesMs: number[]; promptTokens: number[] }> {
  const h = await startServer({ debounceMs: 0, ...settings, ...CONFIGURATIONS[configuration] }, { workspaceStoragePath: storage }, { rootUri: pathToFileURL(dir).href });
  const suggestions: string[] = [];
  const latenciesMs: number[] = [];
  const promptTokens: number[] = [];
  try {
    await h.waitReady(600_000);
    if (CONFIGURATIONS[configuration]['index.enabled']) await indexReady(h);
    for (const [path, group] of groupBy(samples, (s) => s.path)) {
      const text = readFileSync(join(dir, path), 'utf8');
      const opened = importedFiles(dir, path, text);
      for (const p of opened) await h.open(uriOf(dir, p), LANGUAGES[extname(p)]!, readFileSync(join(dir, p), 'utf8'));
      const uri = uriOf(dir, path);
      const lines = text.split('\n');
      await h.open(uri, LANGUAGES[extname(path)]!, text);
      for (const s of group) {
        await h.change(uri, [...lines.slice(0, s.line), s.indent, ...lines.slice(s.line + 1)].join('\n'));
        const t0 = performance.now();
        const r = await h.inline(uri, { line: s.line, character: s.indent.length });
        latenciesMs.push(performance.now() - t0);
        const first = r?.items[0]?.insertText;
        suggestions.push(typeof first === 'string' ? (first.split('\n')[0] ?? '').trim() : '');
        promptTokens.push((await h.conn.sendRequest(DebugLastCompletionRequest)).promptTokens ?? 0);
        if (process.env.BENCH_VERBOSE) process.stderr.write(`  ${configuration} ${path}:${s.line + 1} [${promptTokens.at(-1)} tokens] ${JSON.stringify(suggestions.at(-1))} / ${JSON.stringify(s.expected)}\n`);
      }
      for (const u of [uri, ...opened.map((p) => uriOf(dir, p))]) await h.conn.sendNotification('textDocument/didClose', { textDocument: { uri: u } });
    }
  } finally {
    await h.close();
  }
  return { suggestions, latenciesMs, promptTokens };
}

async function indexReady(h: Harness): Promise<void> {
  const s = await h.conn.sendRequest<{ index?: { state: string; filesDone: number; filesTotal: number } }>('neox/getStatus');
  if (s.index?.state === 'ready' && s.index.filesDone === s.index.filesTotal) return;
  await h.waitStatus((x) => x.index?.state === 'ready' && x.index.filesTotal === x.index.filesDone, { since: 0, timeoutMs: 600_000 });
}

export function score(samples: Sample[], suggestions: string[], latenciesMs: number[], promptTokens: number[]): LineResult {
  let exact = 0;
  let similarity = 0;
  let empty = 0;
  samples.forEach((s, i) => {
    const got = suggestions[i] ?? '';
    if (!got) empty++;
    if (got === s.expected) exact++;
    similarity += editSimilarity(got, s.expected);
  });
  const n = samples.length || 1;
  return {
    exactMatch: round(exact / n),
    editSimilarity: round(similarity / n),
    empty,
    lines: samples.length,
    latencyMsP50: Math.round(pct(latenciesMs, 50)),
    promptTokensMean: Math.round(promptTokens.reduce((a, b) => a + b, 0) / n),
  };
}

/**
 * Copies a workspace's source folder into `into` under its own name (so a Python package's absolute
 * imports resolve; an index leaves node_modules/ out, and nothing is written into the repository).
 */
export function copyWorkspace(w: CodeWorkspace, into: string): string | undefined {
  const source = w.source.startsWith('/') ? w.source : join(ROOT, w.source);
  if (!existsSync(source)) return undefined;
  mkdirSync(into, { recursive: true });
  cpSync(source, join(into, basename(source)), { recursive: true, filter: (p) => !relative(source, p).split('/').includes('__pycache__') });
  return into;
}

function groupBy<T>(xs: T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) m.set(key(x), [...(m.get(key(x)) ?? []), x]);
  return m;
}

const round = (x: number) => Math.round(x * 1000) / 1000;
