import { linePrefix, lineSuffix, type PostprocessRule } from './types';

/**
 * GPT-NeoX never sees the suffix, so it often writes again what already follows the cursor.
 * - The rest of the current line: a completion line ending with it loses that ending.
 * - The following lines: from the first completion line equal (ignoring indentation) to the
 *   next non-blank line after the cursor, drop everything (for short lines, only when the
 *   lines after it match the document's too).
 */
export const dropSuffixRepeat: PostprocessRule = (text, ctx) => {
  let lines = text.split('\n');
  const restOfLine = lineSuffix(ctx).trim();
  if (restOfLine && lines[0]!.trimEnd().endsWith(restOfLine)) {
    const l = lines[0]!.trimEnd();
    lines[0] = l.slice(0, l.length - restOfLine.length);
  }
  const after = ctx.suffix
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .slice(0, 3);
  if (after.length === 0) return lines.join('\n');
  // Line 0 only counts as a whole line when the cursor starts it.
  const first = linePrefix(ctx).trim() === '' ? 0 : 1;
  for (let i = first; i < lines.length; i++) {
    if (lines[i]!.trim() !== after[0]) continue;
    // A distinctive line (10+ characters) is enough; a short one (`}`, `else:`) must be
    // followed by the same lines as in the document.
    const n = after[0]!.length >= 10 ? 1 : Math.min(after.length, lines.length - i);
    let same = true;
    for (let j = 1; j < n && same; j++) if (lines[i + j]!.trim() !== after[j]) same = false;
    if (same) {
      lines = lines.slice(0, i);
      break;
    }
  }
  return lines.join('\n');
};
