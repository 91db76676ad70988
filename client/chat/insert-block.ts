/**
 * Where a chat code block goes when the user presses Insert: on lines of its own at the cursor's line,
 * indented like that line. Pure (no vscode) so the text rules are unit-tested; chat-view.ts applies it.
 */

/** The edit for one cursor line. `replace`: the line's whole content is replaced (it was blank);
 * `after`: `text` (starting with a newline) is inserted at the end of the line. */
export interface BlockEdit {
  line: number;
  mode: 'replace' | 'after';
  text: string;
}

/** Leading spaces and tabs: the indentation a line's inserted block inherits. */
export const indentationOf = (line: string): string => /^[ \t]*/.exec(line)![0];

/**
 * The block's lines without trailing blank lines (a fenced block ends in a newline) and without the
 * indentation common to all its non-blank lines, so that only its own relative indentation remains.
 */
export function blockLines(code: string): string[] {
  const lines = code.replace(/\r\n?/g, '\n').split('\n');
  while (lines.length && !lines[lines.length - 1].trim()) lines.pop();
  while (lines.length && !lines[0].trim()) lines.shift();
  const common = lines.filter((l) => l.trim()).map(indentationOf).reduce<string | undefined>(commonPrefix, undefined) ?? '';
  return lines.map((l) => (l.trim() ? l.slice(common.length) : ''));
}

function commonPrefix(a: string | undefined, b: string): string {
  if (a === undefined) return b;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return a.slice(0, i);
}

/**
 * The edit that puts `code` on its own lines at `lineText` (the cursor line, number `line`): a blank
 * line is replaced by the block, a line with text keeps its text and the block follows it. Every
 * non-blank block line gets the cursor line's indentation; blank lines stay empty (no trailing spaces).
 * Line breaks are '\n': VS Code converts inserted text to the document's own end-of-line.
 */
export function blockEditAt(lineText: string, line: number, code: string): BlockEdit | undefined {
  const lines = blockLines(code);
  if (!lines.length) return undefined;
  const indent = indentationOf(lineText);
  const text = lines.map((l) => (l ? indent + l : '')).join('\n');
  return lineText.trim() ? { line, mode: 'after', text: `\n${text}` } : { line, mode: 'replace', text };
}
