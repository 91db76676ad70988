import type { PostprocessRule } from './types';

/** Trailing spaces on every line and trailing blank lines are noise in ghost text. */
export const trimTrailingWhitespace: PostprocessRule = (text) =>
  text
    .split('\n')
    .map((l) => l.replace(/[ \t\r]+$/, ''))
    .join('\n')
    .replace(/\n+$/, '');
