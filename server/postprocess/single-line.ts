import type { PostprocessRule } from './types';

/** Single-line mode: keep only the text up to the first line break. */
export const keepSingleLine: PostprocessRule = (text, ctx) => {
  if (ctx.multiline) return text;
  const nl = text.indexOf('\n');
  return nl < 0 ? text : text.slice(0, nl);
};
