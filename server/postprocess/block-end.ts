import { languageSpec } from '../language';
import { indentOf, linePrefix, type PostprocessRule } from './types';

const CLOSER_LINE = /^\s*[}\])]/;

/**
 * Multi-line mode: stop where the block the cursor is in ends, judged by indentation.
 * - The cursor line opens a block (`def f():`, `if (x) {`): the body is everything indented
 *   deeper than that line; a closing-bracket line back at its level is kept (it ends the
 *   block) and nothing after it.
 * - Otherwise the completion continues the current block: it stops before the first line
 *   indented less than the cursor line.
 * - Two blank lines in a row end a logical unit: stop there too.
 */
export const stopAtBlockEnd: PostprocessRule = (text, ctx) => {
  if (!ctx.multiline) return text;
  const cur = linePrefix(ctx);
  const blank = cur.trim() === '';
  const base = indentOf(cur);
  const head = cur + (text.split('\n')[0] ?? '');
  const opens = !blank && (/[{([]\s*$/.test(head) || (languageSpec(ctx.languageId).indentBlocks && /:\s*$/.test(head)));
  const lines = text.split('\n');
  const out: string[] = [lines[0]!];
  let blankRun = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') {
      blankRun++;
      if (blankRun >= 2) break;
      out.push(line);
      continue;
    }
    blankRun = 0;
    const ind = indentOf(line);
    if (opens) {
      if (ind <= base) {
        if (CLOSER_LINE.test(line) && ind === base) out.push(line);
        break;
      }
    } else if (ind < base) {
      break;
    }
    out.push(line);
  }
  return out.join('\n');
};
