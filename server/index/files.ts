/**
 * Which files of a workspace folder the index holds: source files of a known language (by name,
 * server/languages.ts) that no .gitignore (at any depth), built-in rule or `neoxComplete.index.exclude`
 * pattern excludes, and that are neither binary, generated, minified nor huge. Patterns are
 * gitignore-style (the `ignore` package), relative to the workspace folder.
 */
import { opendir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { INDEX_MAX_FILE_KB } from '../../protocol/settings';
import { languageFromFileName } from '../language';

/** Folders never indexed, whatever .gitignore says. */
const ALWAYS_EXCLUDED = ['.git/', '.hg/', '.svn/', 'node_modules/', '.neox-index/'];
/** Known languages whose files are data rather than code. */
const DATA_LANGUAGES = new Set(['plaintext', 'json', 'jsonc', 'json5', 'diff', 'xml', 'git-commit', 'git-rebase', 'bibtex']);
/** Lock files, source maps, minified and generated-code file names. */
const GENERATED_NAMES = /(^|\/)(package-lock\.json|yarn\.lock|pnpm-lock\.yaml|Cargo\.lock|poetry\.lock|go\.sum)$|\.(min\.(js|css)|map|lock)$|(_pb2\.py|\.pb\.go|\.g\.dart|\.designer\.cs)$/i;
/** A header line saying the file is generated (Go's "Code generated ... DO NOT EDIT.", @generated, ...). */
const GENERATED_HEADER = /@generated\b|\bDO NOT EDIT\b|\bauto-?generated\b|\bautomatically generated\b/i;

export const FILE_LIMITS = {
  /** Larger files are not indexed (bundles, data dumps). */
  maxBytes: INDEX_MAX_FILE_KB * 1024,
  /** A line this long in the first lines means minified or data. */
  maxLineChars: 1000,
};

export interface WorkspaceFile {
  /** Relative to the folder, '/'-separated. */
  path: string;
  size: number;
  mtimeMs: number;
}

/** Why a file's content is not indexed, or undefined when it is. */
export function skipReason(content: Buffer): string | undefined {
  if (content.length > FILE_LIMITS.maxBytes) return `larger than ${FILE_LIMITS.maxBytes / 1024} KB`;
  const head = content.subarray(0, 8192);
  if (head.includes(0)) return 'binary';
  const text = head.toString('utf8');
  const firstLines = text.split('\n', 30);
  if (firstLines.slice(0, 10).some((l) => GENERATED_HEADER.test(l))) return 'generated';
  if (firstLines.some((l) => l.length > FILE_LIMITS.maxLineChars)) return 'minified or data (very long lines)';
  return undefined;
}

/** The language the index reads a path as, or undefined for a path it does not index by name. */
export function indexedLanguage(path: string): string | undefined {
  if (GENERATED_NAMES.test(path)) return undefined;
  const lang = languageFromFileName(path);
  return DATA_LANGUAGES.has(lang) ? undefined : lang;
}

/** The ignore rules of one workspace folder: built-in, the setting, and each folder's .gitignore (read once, until reset). */
export class IgnoreRules {
  private readonly base: Ignore;
  /** .gitignore rules by folder ('' = the root); null: the folder has none. */
  private readonly gitignores = new Map<string, Ignore | null>();

  constructor(
    private readonly root: string,
    exclude: readonly string[],
  ) {
    this.base = ignore().add(ALWAYS_EXCLUDED).add([...exclude]);
  }

  /** Forget the .gitignore files read (one changed). */
  reset(): void {
    this.gitignores.clear();
  }

  private async gitignoreOf(dir: string): Promise<Ignore | null> {
    let ig = this.gitignores.get(dir);
    if (ig !== undefined) return ig;
    try {
      ig = ignore().add(await readFile(join(this.root, dir, '.gitignore'), 'utf8'));
    } catch {
      ig = null;
    }
    this.gitignores.set(dir, ig);
    return ig;
  }

  /** Whether `path` (relative, '/'-separated; a folder ends with '/') is excluded, by any rule on the way down to it. */
  async ignored(path: string): Promise<boolean> {
    if (this.base.ignores(path)) return true;
    const parts = path.split('/');
    const isDir = path.endsWith('/');
    const segments = parts.filter(Boolean);
    for (let i = 0; i < segments.length; i++) {
      const dir = segments.slice(0, i).join('/');
      const ig = await this.gitignoreOf(dir);
      if (!ig) continue;
      // Each ancestor folder too: `build/` in .gitignore excludes build/a/b.ts.
      for (let j = i + 1; j <= segments.length; j++) {
        const sub = segments.slice(i, j).join('/') + (j < segments.length || isDir ? '/' : '');
        if (ig.ignores(sub)) return true;
      }
    }
    return false;
  }
}

/** Every indexable file under `root` by name and rules (content checks come when it is read). */
export async function listFiles(root: string, rules: IgnoreRules, signal?: AbortSignal): Promise<WorkspaceFile[]> {
  const out: WorkspaceFile[] = [];
  const walk = async (dir: string) => {
    let handle;
    try {
      handle = await opendir(join(root, dir));
    } catch {
      return; // vanished or unreadable
    }
    for await (const e of handle) {
      if (signal?.aborted) return;
      const rel = dir ? `${dir}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!(await rules.ignored(rel + '/'))) await walk(rel);
      } else if (e.isFile() && indexedLanguage(rel) && !(await rules.ignored(rel))) {
        try {
          const s = await stat(join(root, rel));
          out.push({ path: rel, size: s.size, mtimeMs: s.mtimeMs });
        } catch {
          // gone since listed
        }
      }
    }
  };
  await walk('');
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
