import { lineSuffix, type PostprocessContext, type PostprocessRule } from './types';

const OPEN: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
const CLOSE: Record<string, string> = { ')': '(', ']': '[', '}': '{' };

/**
 * Each bracket of `text` outside strings and line comments, with its index. Quote state resets
 * at every line break (template literals excepted), so an apostrophe in a comment or an
 * unterminated string cannot poison the rest of the scan.
 */
function* codeBrackets(text: string, lineComment: string): Generator<[string, number]> {
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
      if (nl < 0) return;
      i = nl - 1;
    } else if (OPEN[ch] || CLOSE[ch]) yield [ch, i];
  }
}

/** Brackets left open in `text` (a bracket stack, innermost last). */
export function openBrackets(text: string, lineComment: string): string[] {
  const stack: string[] = [];
  for (const [ch] of codeBrackets(text, lineComment)) {
    if (OPEN[ch]) stack.push(ch);
    else if (stack[stack.length - 1] === CLOSE[ch]) stack.pop();
  }
  return stack;
}

/** Closing brackets of `line` that close nothing opened within it, in order. */
export function unmatchedClosers(line: string, lineComment: string): string[] {
  const out: string[] = [];
  const open: string[] = [];
  for (const [ch] of codeBrackets(line, lineComment)) {
    if (OPEN[ch]) open.push(ch);
    else if (open.length) open.pop();
    else out.push(ch);
  }
  return out;
}

const lineCommentFor = (ctx: PostprocessContext) => (ctx.languageId === 'python' ? '#' : '//');

/**
 * Cut the completion at the first closing bracket that closes nothing: not a bracket the
 * completion opened, and not one left open before the cursor that the rest of the line
 * already closes (`print(|)` and `f(a, |b)` must not get a second `)`).
 */
export const balanceBrackets: PostprocessRule = (text, ctx) => {
  const lc = lineCommentFor(ctx);
  // Only the tail of the prefix matters for what is open around the cursor.
  const available = openBrackets(ctx.prefix.slice(-4000), lc);
  // Closers later on the line (not matched within it) will close the innermost open brackets:
  // `f(a, |b)` must not get its own `)`.
  for (const ch of unmatchedClosers(lineSuffix(ctx), lc)) {
    if (available[available.length - 1] === CLOSE[ch]) available.pop();
    else break;
  }
  const own: string[] = [];
  for (const [ch, i] of codeBrackets(text, lc)) {
    if (OPEN[ch]) own.push(ch);
    else if (own.length) {
      if (own[own.length - 1] !== CLOSE[ch]) return text.slice(0, i);
      own.pop();
    } else if (available[available.length - 1] === CLOSE[ch]) available.pop();
    else return text.slice(0, i);
  }
  return text;
};
