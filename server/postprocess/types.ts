/** What every post-processing rule may look at besides the generated text. */
export interface PostprocessContext {
  languageId: string;
  /** Document text before the cursor (may be only its tail). */
  prefix: string;
  /** Document text after the cursor (may be only its head). */
  suffix: string;
  /** Multi-line completion wanted (decided from the cursor position, see multiline.ts). */
  multiline: boolean;
  /** Upper bound on lines in a multi-line completion. */
  maxLines: number;
}

export type PostprocessRule = (text: string, ctx: PostprocessContext) => string;

export const indentOf = (line: string): number => {
  let w = 0;
  for (const ch of line) {
    if (ch === ' ') w += 1;
    else if (ch === '\t') w += 4;
    else break;
  }
  return w;
};

/** The part of the current line before the cursor. */
export const linePrefix = (ctx: PostprocessContext): string => ctx.prefix.slice(ctx.prefix.lastIndexOf('\n') + 1);
/** The part of the current line after the cursor. */
export const lineSuffix = (ctx: PostprocessContext): string => {
  const i = ctx.suffix.indexOf('\n');
  return i < 0 ? ctx.suffix : ctx.suffix.slice(0, i);
};
