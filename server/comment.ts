/**
 * Finds the comment or docstring at or just above the cursor, for "generate from comment":
 * consecutive `#` or `//` line comments, a `/* ... *\/` block (JSDoc included) or a Python
 * `"""docstring"""` / `'''docstring'''`.
 */
import { languageSpec } from './language';

export interface FoundComment {
  /** The comment's text without its markers. */
  text: string;
  /** Line of the comment's last line (0-based). */
  endLine: number;
  /** Indentation of the comment's first line (the code goes at this level). */
  indent: string;
}

const leading = (l: string) => /^\s*/.exec(l)![0];

export function findComment(text: string, line: number, languageId: string): FoundComment | undefined {
  const lines = text.split('\n');
  // The cursor may sit on the comment or on blank lines right below it.
  let end = Math.min(line, lines.length - 1);
  while (end > 0 && lines[end]!.trim() === '') end--;
  const last = lines[end]?.trim() ?? '';
  if (!last) return undefined;
  const python = languageId === 'python';

  // Python docstring (closing quotes on this line).
  if (python && /("""|''')\s*$/.test(last)) {
    const q = last.endsWith('"""') ? '"""' : "'''";
    let start = end;
    const opensAndCloses = last.indexOf(q) !== last.lastIndexOf(q);
    if (!opensAndCloses) {
      start = end - 1;
      while (start >= 0 && !lines[start]!.includes(q)) start--;
      if (start < 0) return undefined;
    }
    const body = lines.slice(start, end + 1).join('\n').trim();
    return { text: body.slice(3, -3).trim().replace(/\n\s*/g, '\n'), endLine: end, indent: leading(lines[start]!) };
  }

  // Block comment ending on this line.
  if (!python && last.endsWith('*/')) {
    let start = end;
    while (start >= 0 && !lines[start]!.includes('/*')) start--;
    if (start < 0) return undefined;
    const body = lines
      .slice(start, end + 1)
      .join('\n')
      .replace(/^\s*\/\*+/, '')
      .replace(/\*+\/\s*$/, '')
      .split('\n')
      .map((l) => l.replace(/^\s*\*? ?/, '').trimEnd())
      .join('\n')
      .trim();
    return { text: body, endLine: end, indent: leading(lines[start]!) };
  }

  // Run of line comments.
  const marker = python ? '#' : '//';
  if (!last.startsWith(marker)) return undefined;
  let start = end;
  while (start > 0 && lines[start - 1]!.trim().startsWith(marker)) start--;
  const body = lines
    .slice(start, end + 1)
    .map((l) => l.trim().slice(marker.length).replace(/^[/!]?\s?/, '').trimEnd())
    .join('\n')
    .trim();
  if (!body) return undefined;
  return { text: body, endLine: end, indent: leading(lines[start]!) };
}

/**
 * The lines of `text` that are code: not blank, not a line comment, not inside a block comment
 * (or, in Python, a triple-quoted docstring). A small model asked for code from a comment often
 * writes only more comments; this is how that is noticed (and how bench:comment2code scores).
 */
export function codeLines(text: string, languageId: string): string[] {
  const python = languageId === 'python';
  const marker = languageSpec(languageId).lineComment;
  const out: string[] = [];
  let inBlock: string | undefined; // the closing marker while inside a block comment/docstring
  for (const raw of text.split('\n')) {
    let l = raw.trim();
    if (inBlock) {
      const end = l.indexOf(inBlock);
      if (end < 0) continue;
      l = l.slice(end + inBlock.length).trim();
      inBlock = undefined;
    }
    const open = python ? /^("""|''')/.exec(l)?.[1] : l.startsWith('/*') ? '*/' : undefined;
    if (open) {
      const rest = l.slice(open.length === 3 ? 3 : 2);
      if (!rest.includes(open)) inBlock = open;
      continue;
    }
    if (!l || l.startsWith(marker) || (!python && l.startsWith('*'))) continue;
    out.push(raw);
  }
  return out;
}
