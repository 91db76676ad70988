/**
 * The post-processing pipeline: every rule is its own module; this file only fixes their order.
 * Inline completions enter through inline.ts; golden cases: test/fixtures/postprocess.
 */
import { balanceBrackets } from './balance-brackets';
import { stopAtBlockEnd } from './block-end';
import { capLines } from './cap-lines';
import { dropEmpty } from './drop-empty';
import { cutRepetitionLoops } from './repetition';
import { keepSingleLine } from './single-line';
import { dropSuffixRepeat } from './suffix-repeat';
import { trimTrailingWhitespace } from './trim-whitespace';
import type { PostprocessContext, PostprocessRule } from './types';

export type { PostprocessContext } from './types';
export { decideMultiline } from './multiline';

export const PIPELINE: [string, PostprocessRule][] = [
  ['cutRepetitionLoops', cutRepetitionLoops],
  ['keepSingleLine', keepSingleLine],
  ['stopAtBlockEnd', stopAtBlockEnd],
  ['balanceBrackets', balanceBrackets],
  ['dropSuffixRepeat', dropSuffixRepeat],
  ['trimTrailingWhitespace', trimTrailingWhitespace],
  ['capLines', capLines],
  ['dropEmpty', dropEmpty],
];

/** Post-processed completion, or undefined when nothing useful is left. */
export function postprocess(text: string, ctx: PostprocessContext): string | undefined {
  let t = text.replace(/\r\n/g, '\n');
  for (const [, rule] of PIPELINE) {
    t = rule(t, ctx);
    if (t === '') return undefined;
  }
  return t;
}
