/**
 * Inline completions, from the model's raw output to the suggestion shown: the language server
 * (completion-service.ts) runs exactly these steps, and the golden cases in
 * test/fixtures/postprocess run every case through them, so a case shows what the user sees.
 */
import { trailingBlanks } from '../context/prompt';
import { stopAtBlockEnd } from './block-end';
import { postprocess } from './index';
import { decideMultiline } from './multiline';
import { cutRepetitionLoops } from './repetition';
import { linePrefix, type PostprocessContext } from './types';

/** The rules look at most this far around the cursor: enough for any block, cheap on big files. */
const SUFFIX_CHARS = 4000;
const PREFIX_TAIL_CHARS = 8000;

export interface InlineContext extends PostprocessContext {
  /** Spaces and tabs cut off the end of the prompt (see trailingBlanks): the model generated from before them. */
  trailing: string;
}

export { trailingBlanks };

/**
 * What post-processing knows of the cursor: the text around it, the multi-line decision and
 * `maxLines` (the setting; one line in single-line mode). `trailing` assumes the prompt ends
 * with the text before the cursor, as every inline prompt does.
 */
export async function inlineContext(text: string, offset: number, languageId: string, maxLines: number): Promise<InlineContext> {
  const prefix = text.slice(0, offset);
  const multiline = await decideMultiline(text, offset, languageId);
  return {
    languageId,
    prefix: prefix.slice(-PREFIX_TAIL_CHARS),
    suffix: text.slice(offset, offset + SUFFIX_CHARS),
    multiline,
    maxLines: multiline ? maxLines : 1,
    trailing: trailingBlanks(prefix),
  };
}

/**
 * The raw output as if generated from the cursor itself: without the blank lines the model
 * starts with on an empty line (the user wants code on this line), and without the spaces it
 * wrote where the prompt's trailing spaces were.
 */
export function untrail(raw: string, ctx: InlineContext): string {
  const r = linePrefix(ctx).trim() === '' ? raw.replace(/^(?:[ \t]*\n)+/, '') : raw;
  return r.startsWith(ctx.trailing) ? r.slice(ctx.trailing.length) : r.replace(/^[ \t]+/, '');
}

/** The suggestion for one raw output, or undefined when nothing useful is left. */
export function inlineSuggestion(raw: string, ctx: InlineContext): string | undefined {
  return postprocess(untrail(raw, ctx), ctx);
}

/**
 * True once the completed lines of `text` (untrailed output so far) already end the suggestion
 * (single line done, block closed, loop, enough lines): the server then stops generating, as
 * the rest would be cut anyway.
 */
export function isComplete(text: string, ctx: PostprocessContext): boolean {
  if (!ctx.multiline) return text.includes('\n');
  const complete = text.slice(0, text.lastIndexOf('\n'));
  if (complete.split('\n').length > ctx.maxLines) return true;
  const cut = stopAtBlockEnd(cutRepetitionLoops(complete, ctx), ctx);
  return cut.length < complete.length;
}
