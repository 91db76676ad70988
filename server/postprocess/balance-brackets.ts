import { lineSuffix, type PostprocessContext, type PostprocessRule } from './types';

const OPEN: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
const CLOSE: Record<string, string> = { ')': '(', ']': '[', '}': '{' };

/**
 * Brackets left open in `text` (a bracket stack, innermost last), skipping strings and line
 * comments. Quote state resets at every line break, so an apostrophe in a comment
 * or an unterminated string cannot poison the rest of the scan.
 */
export function openBrackets(text: string, lineComment: string): string[] {
  const stack: string[] = [];
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\n') {
      if (quote !== '`') quote = '';
      continue;
    }
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = '';
      continue;
    }
    if (ch === '"' || ch === "'" || ch === '`') quote = ch;
    else if (text.startsWith(lineComment, i)) {
      const nl = text.indexOf('\n', i);
      if (nl < 0) break;
      i = nl - 1;
    } else if (OPEN[ch]) stack.push(ch);
    else if (CLOSE[ch]) {
      if (stack[stack.length - 1] === CLOSE[ch]) stack.pop();
    }
  }
  return stack;
}

const lineCommentFor = (ctx: PostprocessContext) => (ctx.languageId === 'python' ? '#' : '//');

/**
 * Cut the completion at the first closing bracket that closes nothing: not a bracket the
 * completion opened, and not one left open before the cursor that the text after the
 * cursor does not already close (`print(|)` must not get a second `)`).
 */
export const balanceBrackets: PostprocessRule = (text, ctx) => {
  const lc = lineCommentFor(ctx);
  // Only the tail of the prefix matters for what is open around the cursor.
  const available = openBrackets(ctx.prefix.slice(-4000), lc);
  // Closers at the start of the rest of the line close the innermost open brackets.
  for (const ch of lineSuffix(ctx).trimStart()) {
    if (!CLOSE[ch]) break;
    if (available[available.length - 1] === CLOSE[ch]) available.pop();
    else break;
  }
  const own: string[] = [];
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\n') {
      if (quote !== '`') quote = '';
      continue;
    }
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = '';
      continue;
    }
    if (ch === '"' || ch === "'" || ch === '`') quote = ch;
    else if (text.startsWith(lc, i)) {
      const nl = text.indexOf('\n', i);
      if (nl < 0) break;
      i = nl - 1;
    } else if (OPEN[ch]) own.push(ch);
    else if (CLOSE[ch]) {
      if (own.length) {
        if (own[own.length - 1] !== CLOSE[ch]) return text.slice(0, i);
        own.pop();
      } else if (available[available.length - 1] === CLOSE[ch]) available.pop();
      else return text.slice(0, i);
    }
  }
  return text;
};
