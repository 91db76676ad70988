/**
 * What the server needs to know per language: its comment syntax (line comments, block comments,
 * docstrings — for "generate from comment", the prompt header and post-processing), whether blocks
 * are delimited by braces or indentation, which tree-sitter grammar parses it and which snippets/
 * template applies. The data is one table, server/languages.ts (LANGUAGES), keyed by VS Code language id.
 */
import { LANGUAGES, type LanguageRow } from './languages';

/** A language's comments. Every list may be empty: a language without comments (JSON, plain text). */
export interface CommentSyntax {
  /** Line-comment markers, longest first (`//-` before `//`). */
  line: string[];
  /** Block comments as [open, close], longest opener first (`--[[` is tried before the line marker `--`). */
  block: [string, string][];
  /** Docstrings as [open, close] (Python `"""`, `'''`): string literals that document code. */
  docstring: [string, string][];
  /** Markers match in any case (`REM`, `rem`). */
  ignoreCase: boolean;
}

export interface LanguageSpec {
  /** Template file stem in snippets/ (python, typescript, ... or generic). */
  template: string;
  /**
   * The marker that starts a comment: the first line-comment marker, else the first block opener
   * ('' for a language without comments). Heuristics look for it; text written into a prompt as
   * comments goes through asLineComments / commentLine, which also close a block comment.
   */
  lineComment: string;
  comments: CommentSyntax;
  /** Blocks end by dedent (Python) rather than by a closing brace. */
  indentBlocks: boolean;
  /** tree-sitter-wasms grammar name (tree-sitter-<name>.wasm), when one exists. */
  grammar?: string;
}

export type { LanguageRow } from './languages';

const ROWS = LANGUAGES;
const pairs = (p: string[][] | undefined) =>
  (p ?? []).map(([o, c]) => [o!, c!] as [string, string]).sort((a, b) => b[0].length - a[0].length);

function specOf(r: LanguageRow): LanguageSpec {
  const comments: CommentSyntax = {
    line: [...(r.line ?? [])].sort((a, b) => b.length - a.length),
    block: pairs(r.block),
    docstring: pairs(r.docstring),
    ignoreCase: r.ignoreCase ?? false,
  };
  // The marker written into prompts: the first listed (not the longest), or the first block opener.
  const first = r.headerBlock ? undefined : r.line?.[0];
  return {
    template: r.template ?? 'generic',
    lineComment: first ?? r.block?.[0]?.[0] ?? '',
    comments,
    indentBlocks: r.indentBlocks ?? false,
    ...(r.grammar ? { grammar: r.grammar } : {}),
  };
}

const SPECS = new Map<string, LanguageSpec>(Object.entries(ROWS).map(([id, r]) => [id, specOf(r)]));
/** Languages that write their prompt header as a block comment although they have line comments. */
const HEADER_BLOCK = new Set(Object.entries(ROWS).filter(([, r]) => r.headerBlock).map(([id]) => id));

/**
 * Any other language: its comment syntax is unknown, so nothing that needs it (the prompt header,
 * cross-file snippets) is written for it — see knownLanguage. The markers here only serve finding a
 * comment the user wrote ("generate from comment") and telling code from comments, never text
 * written into a prompt.
 */
const GENERIC: LanguageSpec = {
  template: 'generic',
  lineComment: '//',
  comments: { line: ['//', '#'], block: [['/*', '*/'], ['<!--', '-->']], docstring: [], ignoreCase: false },
  indentBlocks: false,
};

/** True when the language's comment syntax is known (a prompt may carry comment lines for it). */
export function knownLanguage(languageId: string): boolean {
  const s = SPECS.get(languageId);
  return !!s && s.lineComment !== '';
}

/** Every language id in the table. */
export function languageIds(): string[] {
  return [...SPECS.keys()];
}

const EXTENSIONS = new Map<string, string>();
const FILE_NAMES = new Map<string, string>();
for (const [id, r] of Object.entries(ROWS)) {
  for (const e of r.extensions ?? []) if (!EXTENSIONS.has(e)) EXTENSIONS.set(e, id);
  for (const f of r.fileNames ?? []) FILE_NAMES.set(f, id);
}

export function languageSpec(languageId: string): LanguageSpec {
  return SPECS.get(languageId) ?? GENERIC;
}

/** Language id from a file name (for generateFile, where there is no document yet). */
export function languageFromFileName(fileName: string): string {
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  const named = FILE_NAMES.get(base);
  if (named) return named;
  const ext = /\.([A-Za-z0-9_+-]+)$/.exec(base)?.[1]?.toLowerCase() ?? '';
  return EXTENSIONS.get(ext) ?? 'plaintext';
}

/**
 * The [open, close] of one comment line of the language: a line comment (close '') or, for a
 * language with only block comments (HTML, CSS, OCaml) or whose files start in markup (Vue,
 * Svelte), its first block comment. Undefined for a language without comments.
 */
export function commentDelimiters(languageId: string): [string, string] | undefined {
  const s = languageSpec(languageId);
  if (!s.lineComment) return undefined;
  const block = s.comments.block[0];
  const viaBlock = HEADER_BLOCK.has(languageId) || !s.comments.line.length;
  if (viaBlock && block) {
    // The table's first block, not the longest opener (pairs() sorted them).
    const row = ROWS[languageId]?.block?.[0];
    return row ? [row[0]!, row[1]!] : block;
  }
  return [s.lineComment, ''];
}

/** One line of text as a comment of the language (`# text`, `<!-- text -->`); the text as is when it has none. */
export function commentLine(text: string, languageId: string): string {
  const d = commentDelimiters(languageId);
  if (!d) return text;
  const [open, close] = d;
  if (!text.length) return close ? '' : open;
  return close ? `${open} ${text} ${close}` : `${open} ${text}`;
}

/** `text` as comments of the language, line by line (every line marked; `<!-- ... -->` per line in HTML). */
export function asLineComments(text: string, languageId: string): string {
  return text
    .split('\n')
    .map((l) => commentLine(l, languageId))
    .join('\n');
}
