/**
 * tree-sitter (web-tree-sitter 0.22 + the prebuilt grammars of tree-sitter-wasms), used to
 * tell whether the cursor sits in a comment or string and whether it is inside a block.
 *
 * The wasm files are looked up both next to this module (dist/: esbuild.mjs copies
 * web-tree-sitter's tree-sitter.wasm to dist/ and tree-sitter-wasms/out/*.wasm to dist/grammars/)
 * and in node_modules (running from sources). A missing grammar is not an error: callers
 * fall back to line heuristics.
 */
import Parser from 'web-tree-sitter';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { languageSpec } from './language';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

function packageDir(name: string): string | undefined {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}

function firstExisting(paths: (string | undefined)[]): string | undefined {
  return paths.find((p): p is string => !!p && existsSync(p));
}

export function runtimeWasmPath(): string | undefined {
  const pkg = packageDir('web-tree-sitter');
  return firstExisting([join(here, 'tree-sitter.wasm'), pkg && join(pkg, 'tree-sitter.wasm')]);
}

export function grammarWasmPath(grammar: string): string | undefined {
  const file = `tree-sitter-${grammar}.wasm`;
  const pkg = packageDir('tree-sitter-wasms');
  return firstExisting([join(here, 'grammars', file), pkg && join(pkg, 'out', file)]);
}

let init: Promise<boolean> | undefined;
const languages = new Map<string, Promise<Parser.Language | undefined>>();

function initParser(): Promise<boolean> {
  init ??= (async () => {
    const wasm = runtimeWasmPath();
    if (!wasm) return false;
    await Parser.init({ locateFile: () => wasm });
    return true;
  })().catch(() => false);
  return init;
}

async function loadLanguage(languageId: string): Promise<Parser.Language | undefined> {
  const grammar = languageSpec(languageId).grammar;
  if (!grammar) return undefined;
  let p = languages.get(grammar);
  if (!p) {
    p = (async () => {
      if (!(await initParser())) return undefined;
      const path = grammarWasmPath(grammar);
      return path ? await Parser.Language.load(path) : undefined;
    })().catch(() => undefined);
    languages.set(grammar, p);
  }
  return p;
}

export interface CursorSyntax {
  /** The cursor is inside a comment. */
  inComment: boolean;
  /** The cursor is inside a string literal (not at its closing quote). */
  inString: boolean;
  /** The text around the cursor does not parse (an unfinished construct). */
  inError: boolean;
}

const parsers = new Map<Parser.Language, Parser>();

/**
 * Syntax facts at `offset` in `text`, or undefined when no grammar exists for the language.
 * Only the tail of the text (up to `maxChars` before the cursor) is parsed: enough context
 * for the node around the cursor, and parse time stays small on big files.
 */
export async function cursorSyntax(
  text: string,
  offset: number,
  languageId: string,
  maxChars = 20_000,
): Promise<CursorSyntax | undefined> {
  const lang = await loadLanguage(languageId);
  if (!lang) return undefined;
  let parser = parsers.get(lang);
  if (!parser) {
    parser = new Parser();
    parser.setLanguage(lang);
    parsers.set(lang, parser);
  }
  // Start at a line boundary so row/column stay meaningful.
  let start = Math.max(0, offset - maxChars);
  if (start > 0) start = text.indexOf('\n', start) + 1 || start;
  const end = Math.min(text.length, offset + 2_000);
  const src = text.slice(start, end);
  const cursor = offset - start;
  const before = src.slice(0, cursor);
  const row = before.split('\n').length - 1;
  const column = cursor - (before.lastIndexOf('\n') + 1);
  const tree = parser.parse(src);
  try {
    // The node just left of the cursor decides: `# comment|` is in the comment, `"abc|"` in the string.
    const col = Math.max(0, column - 1);
    const node = tree.rootNode.descendantForPosition({ row, column: col });
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
