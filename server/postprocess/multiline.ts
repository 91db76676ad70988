import { cursorSyntax } from '../syntax';
import { languageSpec } from '../language';

/** Only closing brackets, quotes and separators after the cursor: still "end of line". */
const TRIVIAL_REST = /^[\s)\]}'";,:]*$/;
/** Brackets open a body or an argument list in every language; `:` only where it starts a block. */
const opensBlock = (before: string, languageId: string) =>
  /[{([]\s*$/.test(before) || (languageSpec(languageId).indentBlocks && /:\s*$/.test(before));

/**
 * Decide from the cursor position whether to ask for several lines or just the rest of one.
 * - Text after the cursor on the same line (beyond closing brackets): single line.
 * - Inside a comment or a string (tree-sitter where a grammar exists, else a line-comment
 *   check): single line.
 * - An empty line, or a line that opens a block (`{` / `(` / `[`, and `:` in Python): multi-line.
 * - Otherwise the cursor continues a statement: single line.
 */
export async function decideMultiline(text: string, offset: number, languageId: string): Promise<boolean> {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  let lineEnd = text.indexOf('\n', offset);
  if (lineEnd < 0) lineEnd = text.length;
  const before = text.slice(lineStart, offset);
  const after = text.slice(offset, lineEnd);
  if (!TRIVIAL_REST.test(after)) return false;
  const syntax = await cursorSyntax(text, offset, languageId).catch(() => undefined);
  if (syntax) {
    if (syntax.inComment || syntax.inString) return false;
  } else if (before.includes(languageSpec(languageId).lineComment)) {
    return false;
  }
  if (before.trim() === '') return true;
  // `foo(|)`: the arguments of a call go on this line; `{|}` or `:|` still open a body.
  if (after.trim() !== '') return /\{\s*$/.test(before) || (languageSpec(languageId).indentBlocks && /:\s*$/.test(before));
  return opensBlock(before, languageId);
}
