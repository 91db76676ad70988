/**
 * Reads the prompt data files of snippets/ (layout and format: snippets/README.md): one folder per
 * task, one file per language (`<task>/<languageId>.txt`, else the language's template stem, else
 * `generic.txt`). A workspace's `.neox/snippets/` has the same layout; its files add to the built-ins
 * or replace the built-in file of the same name. Workspace files are looked up on every request
 * (two stats per folder), so an edit counts from the next request, without a watcher; a parsed file
 * is kept until its modification time or size changes.
 *
 * A workspace file that cannot be used (unreadable, bad front-matter, wrong shape for its task) is
 * reported once, naming the file and the line, and skipped: the built-ins are used instead.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The tasks prompts are written for, each a folder of snippets/. */
export const PROMPT_TASKS = {
  /** Inline completion: the header at the top of every prompt (zero-shot). */
  complete: { keys: [], body: true, placeholders: true },
  /** Code from a comment: comment-then-code examples; `top` / `inner`: first words of code forced on a retry. */
  'from-comment': { keys: ['top', 'inner'], body: false, placeholders: false },
  /** Code from a docstring: definition-docstring-body examples; `top` / `inner` as for from-comment. */
  'from-docstring': { keys: ['top', 'inner'], body: false, placeholders: false },
  /** A new file from a description: a small idiomatic piece of code in the language (few-shot). */
  'generate-file': { keys: [], body: true, placeholders: false },
  /** "Explain": the question asked about the attached code (zero-shot). */
  explain: { keys: [], body: true, placeholders: true },
  /** Chat: the system prompt sent with attached code. */
  'chat-system': { keys: [], body: true, placeholders: true },
} as const satisfies Record<string, { keys: readonly string[]; body: boolean; placeholders: boolean }>;

export type PromptTask = keyof typeof PROMPT_TASKS;

export interface PromptFile {
  /** Absolute path, for messages. */
  file: string;
  /** The front-matter's `key: value` lines. */
  meta: Record<string, string>;
  /** The text after the front-matter, without leading and trailing blank lines. */
  body: string;
  /** From the workspace's .neox/snippets/ (else built in). */
  workspace: boolean;
}

/** Where a workspace keeps its prompt files, under its root folder. */
export const WORKSPACE_SNIPPETS = join('.neox', 'snippets');

/** The built-in snippets/ folder: next to server/ in the sources, next to dist/ in the package. */
export function builtinSnippetsDir(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  return [join(here, '..', 'snippets')].find((d) => existsSync(join(d, 'complete')));
}

export class PromptFileError extends Error {}

/**
 * Parses a prompt file: an optional front-matter (a first line `---`, `key: value` lines, a line
 * `---`), then the body. Throws PromptFileError naming the line when it does not fit `task`.
 */
export function parsePromptFile(raw: string, task: PromptTask, file: string, workspace = false): PromptFile {
  const shape = PROMPT_TASKS[task];
  const lines = raw.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n').split('\n');
  const meta: Record<string, string> = {};
  let start = 0;
  if (lines[0]?.trimEnd() === '---') {
    const end = lines.findIndex((l, i) => i > 0 && l.trimEnd() === '---');
    if (end < 0) throw new PromptFileError(`line 1: the front-matter opened with --- is never closed by a line ---`);
    for (let i = 1; i < end; i++) {
      const l = lines[i]!;
      if (!l.trim() || l.trimStart().startsWith('#')) continue;
      const m = /^([A-Za-z][\w-]*)[ \t]*:[ \t]?(.*)$/.exec(l);
      if (!m) throw new PromptFileError(`line ${i + 1}: ${JSON.stringify(l)} is not a "key: value" line of the front-matter`);
      const key = m[1]!;
      if (!(shape.keys as readonly string[]).includes(key)) {
        const known = shape.keys.length ? `it takes ${shape.keys.join(', ')}` : 'it takes no front-matter keys';
        throw new PromptFileError(`line ${i + 1}: unknown key "${key}" for a ${task} prompt (${known})`);
      }
      if (key in meta) throw new PromptFileError(`line ${i + 1}: "${key}" is given twice`);
      meta[key] = m[2]!.trim();
    }
    start = end + 1;
  }
  const body = lines.slice(start).join('\n').replace(/^\n+|\s+$/g, '');
  if (shape.body && !body.trim()) throw new PromptFileError(`a ${task} prompt needs text after ${start ? 'the front-matter' : 'its start'}, and the file has none`);
  return { file, meta, body, workspace };
}

/** What identifies a version of a file: a change of either means it was rewritten. */
const stampOf = (s: { mtimeMs: number; size: number }) => `${s.mtimeMs}:${s.size}`;

interface Cached {
  stamp: string;
  result: PromptFile | PromptFileError;
}

export type ProblemReporter = (message: string) => void;

export class PromptFiles {
  private workspaceDirs: string[] = [];
  private report: ProblemReporter = () => undefined;
  /** Built-in files by path, read once (the package does not change while running). */
  private readonly builtins = new Map<string, PromptFile | null>();
  /** Folder listings of the workspace, by folder, kept while the folder's mtime stays. */
  private readonly listings = new Map<string, { stamp: number; names: Set<string> }>();
  private readonly parsed = new Map<string, Cached>();
  /** Problems already reported, by file: each is shown once until the file changes to a working one. */
  private readonly reported = new Map<string, string>();

  constructor(private readonly builtinDir: string | undefined = builtinSnippetsDir()) {}

  /** The workspace folders whose `.neox/snippets/` add to the built-ins (the first folder wins), and where problems go. */
  configure(workspaceRoots: string[], report: ProblemReporter): void {
    this.workspaceDirs = workspaceRoots.map((r) => join(r, WORKSPACE_SNIPPETS));
    this.report = report;
  }

  /**
   * The first of `names` (file stems, most specific first) found for `task`: for each name, the
   * workspace's file, then the built-in one. A workspace file that cannot be used is reported and passed over.
   */
  find(task: PromptTask, names: readonly string[]): PromptFile | undefined {
    for (const name of names) {
      if (!/^[\w+-][\w.+-]*$/.test(name)) continue;
      for (const dir of this.workspaceDirs) {
        const f = this.workspaceFile(join(dir, task), `${name}.txt`, task);
        if (f) return f;
      }
      const b = this.builtinFile(task, name);
      if (b) return b;
    }
    return undefined;
  }

  private builtinFile(task: PromptTask, name: string): PromptFile | undefined {
    if (!this.builtinDir) return undefined;
    const file = join(this.builtinDir, task, `${name}.txt`);
    let f = this.builtins.get(file);
    if (f === undefined) {
      f = null;
      if (existsSync(file)) {
        try {
          f = parsePromptFile(readFileSync(file, 'utf8'), task, file);
        } catch (e) {
          this.report(`${file}: ${(e as Error).message}`);
        }
      }
      this.builtins.set(file, f);
    }
    return f ?? undefined;
  }

  private workspaceFile(dir: string, base: string, task: PromptTask): PromptFile | undefined {
    const file = join(dir, base);
    if (!this.listing(dir)?.has(base)) {
      this.reported.delete(file);
      return undefined;
    }
    let result: PromptFile | PromptFileError;
    try {
      const st = statSync(file, { throwIfNoEntry: false });
      if (!st) return undefined;
      const stamp = stampOf(st);
      const cached = this.parsed.get(file);
      if (cached?.stamp === stamp) result = cached.result;
      else {
        result = this.read(file, task, st.isFile());
        this.parsed.set(file, { stamp, result });
      }
    } catch (e) {
      result = new PromptFileError(`cannot read it (${(e as Error).message})`);
    }
    if (!(result instanceof PromptFileError)) {
      this.reported.delete(file);
      return result;
    }
    const message = `${file}: ${result.message}. The built-in prompts are used instead.`;
    if (this.reported.get(file) !== message) {
      this.reported.set(file, message);
      this.report(message);
    }
    return undefined;
  }

  private read(file: string, task: PromptTask, isFile: boolean): PromptFile | PromptFileError {
    if (!isFile) return new PromptFileError('it is not a file');
    try {
      return parsePromptFile(readFileSync(file, 'utf8'), task, file, true);
    } catch (e) {
      return e instanceof PromptFileError ? e : new PromptFileError(`cannot read it (${(e as Error).message})`);
    }
  }

  /** The names in a workspace folder, re-listed when the folder changes (a file added, removed or renamed). */
  private listing(dir: string): Set<string> | undefined {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(dir, { throwIfNoEntry: false });
    } catch {
      st = undefined; // not reachable (a file on the way, no permission): no workspace prompts there
    }
    if (!st?.isDirectory()) {
      this.listings.delete(dir);
      return undefined;
    }
    const cached = this.listings.get(dir);
    if (cached?.stamp === st.mtimeMs) return cached.names;
    let names: Set<string>;
    try {
      names = new Set(readdirSync(dir));
    } catch (e) {
      this.report(`${dir}: cannot list it (${(e as Error).message}). The built-in prompts are used instead.`);
      names = new Set();
    }
    this.listings.set(dir, { stamp: st.mtimeMs, names });
    return names;
  }
}

/** The server's prompt files (the language server configures its workspace folders at initialize). */
export const promptFiles = new PromptFiles();
