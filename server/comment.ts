/**
 * Finds the comment or docstring at or just above the cursor, for "generate from comment", in the
 * language's own syntax (server/languages.ts): a run of line comments (`#`, `//`, `--`, `;`, `%`,
 * `'`, `REM` ...), a block comment (`/* *\/` and JSDoc, `<!-- -->`, `{- -}`, `(* *)`, `--[[ ]]`,
 * `=begin`/`=end` ...) or a docstring (Python `"""` / `'''`).
 */
import { languageSpec, type CommentSyntax } from './language';

export interface FoundComment {
  /** The comment's text without its markers. */
  text: string;
  /** Line of the comment's last line (0-based). */
  endLine: number;
  /** Indentation of the comment's first line (the code goes at this level). */
  indent: string;
  /** A docstring (Python `"""`): the code it documents is usually above it, the code to write below. */
  docstring: boolean;
}

const leading = (l: string) => /^\s*/.exec(l)![0];
const isLetter = (c: string | undefined) => !!c && /[\p{L}\p{N}_]/u.test(c);

/** The line marker `l` (trimmed) starts with, if any. A word marker (`REM`) must be a whole word. */
function lineMarker(l: string, c: CommentSyntax): string | undefined {
  const probe = c.ignoreCase ? l.toUpperCase() : l;
  for (const m of c.line) {
    const mm = c.ignoreCase ? m.toUpperCase() : m;
    if (!probe.startsWith(mm)) continue;
    if (isLetter(mm.at(-1)) && isLetter(l[mm.length])) continue;
    return l.slice(0, m.length);
  }
  return undefined;
}

/** The block comment or docstring whose opener `l` (trimmed) starts with, longest opener first. */
function blockOpener(l: string, pairs: [string, string][]): [string, string] | undefined {
  return pairs.find(([o]) => l.startsWith(o) && !(isLetter(o.at(-1)) && isLetter(l[o.length])));
}

/** Text of a block comment's lines (markers included), without markers and decoration. */
function blockBody(lines: string[], open: string, close: string): string {
  let body = lines.join('\n').trim();
  body = body.slice(open.length, body.length - close.length);
  const cStyle = open.startsWith('/*');
  return body
    .replace(/^[*!|<-]+/, '') // `/**`, `/*!`, `{-|`, `<!---`
    .replace(open === '{-' ? /^\s*\|/ : /^$/, '') // Haddock's `{- |`
    .replace(/[*-]+$/, '') // `**/`, `--]]`, `--->`
    .split('\n')
    .map((l) => (cStyle ? l.replace(/^\s*\*? ?/, '') : l.trim()).trimEnd())
    .join('\n')
    .trim();
}

export function findComment(text: string, line: number, languageId: string): FoundComment | undefined {
  const c = languageSpec(languageId).comments;
  const lines = text.split('\n');
  // The cursor may sit on the comment or on blank lines right below it.
  let end = Math.min(line, lines.length - 1);
  while (end > 0 && lines[end]!.trim() === '') end--;
  const last = lines[end]?.trim() ?? '';
  if (!last) return undefined;

  // A docstring or block comment closing on this line: search up for its opener.
  const docstrings = new Set(c.docstring);
  for (const pair of [...c.docstring, ...c.block]) {
    const [open, close] = pair;
    if (!last.endsWith(close)) continue;
    // A word opener (`=begin`) starts its line; a symbol opener may follow code (`x = """`).
    const opens = (l: string) => (/^[=\p{L}]/u.test(open) ? !!blockOpener(l.trim(), [[open, close]]) : l.includes(open));
    // Open and closed on this very line (`/* x */`, `"""x"""`), or opened on a line above.
    const here = last.indexOf(open);
    let start = here >= 0 && here + open.length <= last.length - close.length ? end : end - 1;
    if (start !== end) while (start >= 0 && !opens(lines[start]!)) start--;
    if (start < 0) continue;
    // A closer between opener and this line means this line's closer ends something else (`t[a[1]]`).
    if (open !== close && lines.slice(start + 1, end).some((l) => l.includes(close))) continue;
    const first = lines[start]!;
    // The comment starts at its opener: text before it on that line (`x = """`) is not part of it.
    const from = first.indexOf(open);
    const body = blockBody([first.slice(from), ...lines.slice(start + 1, end + 1)], open, close);
    if (!body) continue;
    return { text: body, endLine: end, indent: leading(first), docstring: docstrings.has(pair) };
  }

  // A run of line comments.
  const isComment = (l: string) => {
    const t = l.trim();
    return !!lineMarker(t, c) && !blockOpener(t, c.block) && !t.startsWith('#!');
  };
  if (!isComment(last)) return undefined;
  let start = end;
  while (start > 0 && isComment(lines[start - 1]!)) start--;
  const body = lines
    .slice(start, end + 1)
    .map((l) => {
      const t = l.trim();
      const m = lineMarker(t, c) ?? '';
      const rest = t.slice(m.length);
      // `///`, `//!`, `##`, `---`, `;;;`, `%%`, `-- |`: decoration after the marker.
      const deco = isLetter(m.at(-1)) ? /^\s?/ : new RegExp(`^[${m.at(-1)!.replace(/[\]\\^-]/g, '\\$&')}!|]*\\s?`);
      const text = rest.replace(deco, '');
      return (m === '--' ? text.replace(/^\|\s?/, '') : text).trimEnd(); // Haddock's `-- |`
    })
    .join('\n')
    .trim();
  if (!body) return undefined;
  return { text: body, endLine: end, indent: leading(lines[start]!), docstring: false };
}

/**
 * The lines of `text` that are code: not blank, not a line comment, not inside a block comment
 * or docstring. A small model asked for code from a comment often writes only more comments; this
 * is how that is noticed (and how bench:comment2code scores).
 */
export function codeLines(text: string, languageId: string): string[] {
  const c = languageSpec(languageId).comments;
  const blocks = [...c.docstring, ...c.block].sort((a, b) => b[0].length - a[0].length);
  const cStyle = c.block.some(([o]) => o === '/*');
  const out: string[] = [];
  let inBlock: string | undefined; // the closing marker while inside a block comment/docstring
  for (const raw of text.split('\n')) {
    let l = raw.trim();
    if (inBlock) {
      const end = l.indexOf(inBlock);
      if (end < 0) continue;
      l = l.slice(end + inBlock.length).trim();
      inBlock = undefined;
      if (!l) continue;
    }
    const open = blockOpener(l, blocks);
    if (open) {
      const rest = l.slice(open[0].length);
      const closeAt = rest.indexOf(open[1]);
      if (closeAt < 0) inBlock = open[1];
      // Code after a block closed on the same line (`/* x */ y()`) is code.
      else if (rest.slice(closeAt + open[1].length).trim() && !lineMarker(rest.slice(closeAt + open[1].length).trim(), c)) out.push(raw);
      continue;
    }
    if (!l || lineMarker(l, c) || (cStyle && l.startsWith('*'))) continue;
    out.push(raw);
  }
  return out;
}
