// Insert from a chat code block: the block lands on lines of its own at the cursor's line, indented like
// that line, never joined onto the line's text (`return s.is_palindrical()>>> from sympy ...`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockEditAt, blockLines, type BlockEdit } from '../../client/chat/insert-block';

/** Applies an edit to a whole document the way chat-view.ts applies it through the editor. */
function apply(doc: string, e: BlockEdit): string {
  const lines = doc.split('\n');
  lines[e.line] = e.mode === 'replace' ? e.text : lines[e.line] + e.text;
  return lines.join('\n');
}

test('a line with text keeps it; the block follows on new lines at that line’s indentation', () => {
  const doc = 'class S:\n    def check(self, s):\n        return s.is_palindrical()\n\nx = 1';
  const e = blockEditAt('        return s.is_palindrical()', 2, 'from sympy import symbols\nx = symbols("x")\n');
  assert.deepEqual(e, { line: 2, mode: 'after', text: '\n        from sympy import symbols\n        x = symbols("x")' });
  assert.equal(
    apply(doc, e!),
    'class S:\n    def check(self, s):\n        return s.is_palindrical()\n        from sympy import symbols\n        x = symbols("x")\n\nx = 1',
  );
});

test('a blank or whitespace-only line is replaced by the block, indented by its whitespace', () => {
  const doc = 'def f():\n    \nreturn';
  const e = blockEditAt('    ', 1, 'a = 1\nb = 2\n');
  assert.deepEqual(e, { line: 1, mode: 'replace', text: '    a = 1\n    b = 2' });
  assert.equal(apply(doc, e!), 'def f():\n    a = 1\n    b = 2\nreturn');
  assert.deepEqual(blockEditAt('', 0, 'x\n'), { line: 0, mode: 'replace', text: 'x' });
});

test('the block keeps its own relative indentation; indentation common to all its lines is dropped', () => {
  const code = '    def add(a, b):\n        return a + b\n';
  assert.deepEqual(blockLines(code), ['def add(a, b):', '    return a + b']);
  const e = blockEditAt('\tpass', 5, code);
  assert.equal(e?.text, '\n\tdef add(a, b):\n\t    return a + b');
});

test('blank lines inside the block stay empty; leading and trailing blank lines and CRLF are dropped', () => {
  const code = '\r\nimport os\r\n\r\ndef main():\r\n    pass\r\n\r\n';
  assert.deepEqual(blockLines(code), ['import os', '', 'def main():', '    pass']);
  assert.equal(blockEditAt('  y = 2', 0, code)?.text, '\n  import os\n\n  def main():\n      pass');
});

test('an empty or blank block gives no edit', () => {
  assert.equal(blockEditAt('x = 1', 0, ''), undefined);
  assert.equal(blockEditAt('x = 1', 0, '\n  \n'), undefined);
});
