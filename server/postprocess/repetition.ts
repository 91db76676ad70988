import type { PostprocessRule } from './types';

const HAS_WORD = /[A-Za-z0-9_]/;

/**
 * Small models under greedy decoding fall into loops (the same line or block of lines over
 * and over, or a phrase repeated within a line). Keep the first occurrence, drop the loop
 * and everything after it.
 * - Line loops: a block of 1..4 lines (containing a word character, so `}` `}` `}` is
 *   fine) occurring three times in a row.
 * - In-line loops: a unit of 2+ characters repeated 6+ times in a row (24+ characters): the
 *   text is cut after its second occurrence.
 */
export const cutRepetitionLoops: PostprocessRule = (text) => {
  const lines = text.split('\n');
  const key = (l: string) => l.trim();
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
  // In-line loops: (unit){6,} with a unit of 2..40 characters.
  const m = /(.{2,40}?)\1{5,}/s.exec(text);
  if (m && m[0].length >= 24 && HAS_WORD.test(m[1]!)) return text.slice(0, m.index + 2 * m[1]!.length);
  return text;
};
