/**
 * The tree-sitter part of syntax.ts, run inside the syntax worker (syntax-worker.ts): some
 * grammar/input pairs send web-tree-sitter's wasm parser into an endless loop that no timeout
 * option or input callback interrupts (seen with tree-sitter-javascript from tree-sitter-wasms
 * 0.1.13 on a real fixture), so parsing happens where it can be killed.
 */
import Parser from 'web-tree-sitter';

export interface CursorSyntax {
  /** The cursor is inside a comment. */
  inComment: boolean;
  /** The cursor is inside a string literal (not at its closing quote). */
  inString: boolean;
  /** The text around the cursor does not parse (an unfinished construct). */
  inError: boolean;
}

let init: Promise<void> | undefined;
const languages = new Map<string, Promise<Parser.Language>>();
const parsers = new Map<string, Parser>();

/** A parser for the grammar, loaded once per thread. */
export async function parserFor(runtimeWasm: string, grammarWasm: string): Promise<Parser> {
  init ??= Parser.init({ locateFile: () => runtimeWasm });
  await init;
  let parser = parsers.get(grammarWasm);
  if (!parser) {
    let lang = languages.get(grammarWasm);
    if (!lang) {
      lang = Parser.Language.load(grammarWasm);
      languages.set(grammarWasm, lang);
    }
    parser = new Parser();
    parser.setLanguage(await lang);
    parsers.set(grammarWasm, parser);
  }
  return parser;
}

/** Syntax facts at `cursor` in `src` (already cut to a window around the cursor). */
export async function analyse(runtimeWasm: string, grammarWasm: string, src: string, cursor: number): Promise<CursorSyntax> {
  const parser = await parserFor(runtimeWasm, grammarWasm);
  const before = src.slice(0, cursor);
  const row = before.split('\n').length - 1;
  const column = cursor - (before.lastIndexOf('\n') + 1);
  const tree = parser.parse(src);
  try {
    // The node just left of the cursor decides: `# comment|` is in the comment, `"abc|"` in the string.
    const node = tree.rootNode.descendantForPosition({ row, column: Math.max(0, column - 1) });
    let inComment = false;
    let inString = false;
    let inError = false;
    for (let n: Parser.SyntaxNode | null = node; n; n = n.parent) {
      const t = n.type;
      if (t.includes('comment')) inComment = true;
      else if (/string|template_string|char_literal|raw_string/.test(t) && !/string_(start|end)$/.test(t)) {
        // At the closing quote, the cursor is after the string.
        const endsAtCursor = n.endPosition.row === row && n.endPosition.column <= column;
        if (!endsAtCursor) inString = true;
      } else if (t === 'ERROR') inError = true;
    }
    return { inComment, inString, inError };
  } finally {
    tree.delete();
  }
}
