import type { PostprocessRule } from './types';

/** Keep at most `maxLines` lines (a multi-line suggestion taller than that is rarely read). */
export const capLines: PostprocessRule = (text, ctx) => {
  const lines = text.split('\n');
  return lines.length <= ctx.maxLines ? text : lines.slice(0, Math.max(1, ctx.maxLines)).join('\n');
};
