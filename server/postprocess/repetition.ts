import type { PostprocessRule } from './types';

const HAS_WORD = /[A-Za-z0-9_]/;

/**
 * Small models under greedy decoding fall into loops (the same line or block of lines over
 * and over, or a phrase repeated within a line). Keep the first occurrence, drop the loop
 * and everything after it.
 * - Line loops: a block of 1..4 lines (containing a word character, so `}` `}` `}` is
 *   fine) occurring three times in a row.
 * - Recurring lines: a line of 20+ characters seen before in the completion, or a line of
 *   6+ characters with a word in it seen twice before, starts a loop (cut before it).
 * - In-line loops: a unit of 2..9 characters repeated 6+ times in a row, or of 10..80
 *   characters 3+ times: the text is cut after its second occurrence.
 */
export const cutRepetitionLoops: PostprocessRule = (text) => {
  const lines = text.split('\n');
  return cutBlockLoop(lines) ?? cutRecurringLine(lines) ?? cutInlineLoop(text) ?? text;
};

/**
 * Loops in prose (chat answers): only runs repeated back to back count. A line recurring across
 * an answer (the opening fence of each code block, say) is normal there.
 */
export function cutRunLoops(text: string): string {
  return cutBlockLoop(text.split('\n')) ?? cutInlineLoop(text) ?? text;
}

const key = (l: string) => l.trim();

/** A block of 1..4 lines with a word in it, three times in a row: keep the first. */
function cutBlockLoop(lines: string[]): string | undefined {
  for (let i = 0; i < lines.length; i++) {
    for (let k = 1; k <= 4 && i + 3 * k <= lines.length; k++) {
      const block = lines.slice(i, i + k).map(key);
      if (!block.some((l) => HAS_WORD.test(l))) continue;
      let same = true;
      for (let rep = 1; rep < 3 && same; rep++) {
        for (let j = 0; j < k; j++) if (key(lines[i + rep * k + j]!) !== block[j]) same = false;
      }
      if (same) return lines.slice(0, i + k).join('\n');
    }
  }
  return undefined;
}

/** A long line seen before, or a short worded line seen twice before: cut before it. */
function cutRecurringLine(lines: string[]): string | undefined {
  const seen = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    const l = key(lines[i]!);
    if (l.length < 6 || !HAS_WORD.test(l)) continue;
    const n = (seen.get(l) ?? 0) + 1;
    seen.set(l, n);
    if ((n >= 2 && l.length >= 20) || n >= 3) return lines.slice(0, i).join('\n');
  }
  return undefined;
}

/** A short unit repeated 6+ times or a longer one 3+ times within a line: keep two. */
function cutInlineLoop(text: string): string | undefined {
  const short = /([^\n]{2,9}?)\1{5,}/.exec(text);
  const long = /([^\n]{10,80}?)\1{2,}/.exec(text);
  const m = [short, long].filter((x) => x && HAS_WORD.test(x[1]!)).sort((a, b) => a!.index - b!.index)[0];
  return m ? text.slice(0, m.index + 2 * m[1]!.length) : undefined;
}
