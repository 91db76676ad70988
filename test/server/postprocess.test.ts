// Golden cases: one block per post-processing rule, each case (input, context) -> expected output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { balanceBrackets } from '../../server/postprocess/balance-brackets';
import { stopAtBlockEnd } from '../../server/postprocess/block-end';
import { capLines } from '../../server/postprocess/cap-lines';
import { dropEmpty } from '../../server/postprocess/drop-empty';
import { cutRepetitionLoops, cutRunLoops } from '../../server/postprocess/repetition';
import { keepSingleLine } from '../../server/postprocess/single-line';
import { dropSuffixRepeat } from '../../server/postprocess/suffix-repeat';
import { trimTrailingWhitespace } from '../../server/postprocess/trim-whitespace';
import { decideMultiline, postprocess } from '../../server/postprocess/index';
import type { PostprocessContext, PostprocessRule } from '../../server/postprocess/types';

const ctx = (o: Partial<PostprocessContext>): PostprocessContext => ({
  languageId: 'python',
  prefix: '',
  suffix: '',
  multiline: true,
  maxLines: 20,
  ...o,
});

type Case = [name: string, input: string, c: Partial<PostprocessContext>, expected: string];
function golden(rule: PostprocessRule, cases: Case[]) {
  for (const [name, input, c, expected] of cases) {
    test(`${rule.name}: ${name}`, () => assert.equal(rule(input, ctx(c)), expected));
  }
}

golden(keepSingleLine, [
  ['cuts at the first newline', 'x + 1)\nprint(y)', { multiline: false }, 'x + 1)'],
  ['leaves multi-line mode alone', 'a\nb', { multiline: true }, 'a\nb'],
  ['newline first gives empty', '\n    return 1', { multiline: false }, ''],
]);

golden(stopAtBlockEnd, [
  [
    'python body stops at dedent',
    '\n    return a + b\n\ndef sub(a, b):\n    return a - b',
    { prefix: 'def add(a, b):' },
    '\n    return a + b\n',
  ],
  [
    'brace body keeps the closing brace and stops',
    '\n    return 0;\n}\n\nint other() {',
    { prefix: 'int main() {', languageId: 'c' },
    '\n    return 0;\n}',
  ],
  [
    'continuing a block stops before a less indented line',
    'x = 1\n        y = 2\n    return x\nprint(1)',
    { prefix: 'def f():\n    if a:\n        ' },
    'x = 1\n        y = 2',
  ],
  ['two blank lines end the unit', 'a = 1\n\n\nb = 2', { prefix: '' }, 'a = 1\n'],
  ['single-line mode untouched', 'a\n  b', { multiline: false, prefix: '    ' }, 'a\n  b'],
]);

golden(balanceBrackets, [
  ['suffix already closes the call', '"hi")', { prefix: 'print(', suffix: ')\n' }, '"hi"'],
  ['closing a prefix bracket is fine', 'b, c)', { prefix: 'f(a, ', suffix: '\n' }, 'b, c)'],
  ['stray closer cuts', 'x]) + 1', { prefix: 'y = (', suffix: '' }, 'x'],
  ['own brackets balance', 'g(h[1]), 2)', { prefix: 'f(', suffix: '' }, 'g(h[1]), 2)'],
  ['brackets in strings ignored', '")" + s)', { prefix: 'f(', suffix: '' }, '")" + s)'],
  ['mismatched closer cuts', 'a(b]', { prefix: '', suffix: '' }, 'a(b'],
  [
    'a closer later on the line counts too',
    'runtimeTemplate, chunkGraph }',
    { prefix: '\t\t{ moduleGraph, ', suffix: 'codeGenerationResults }\n\t) {', languageId: 'javascript' },
    'runtimeTemplate, chunkGraph ',
  ],
  ['pairs within the rest of the line are ignored', 'x)', { prefix: 'f(', suffix: ' + g(y)\n' }, 'x)'],
  [
    'closing the enclosing brace of a C block is allowed',
    '\n    return 0;\n}',
    { prefix: 'int main() {', suffix: '', languageId: 'c' },
    '\n    return 0;\n}',
  ],
]);

golden(dropSuffixRepeat, [
  ['rest of line not repeated', 'a, b):', { prefix: 'def f(', suffix: '):\n    pass' }, 'a, b'],
  [
    'drops lines already after the cursor',
    '\n    y = 2\n    return y',
    { prefix: 'def f():\n    x = 1', suffix: '\n    return y\n' },
    '\n    y = 2',
  ],
  [
    'closing brace already in the suffix',
    '\n    return 0;\n}',
    { prefix: 'int main() {', suffix: '\n}\n', languageId: 'c' },
    '\n    return 0;',
  ],
  ['different lines kept', 'x = 1\ny = 2', { prefix: '', suffix: '\nz = 3' }, 'x = 1\ny = 2'],
  [
    'a distinctive next line alone is enough',
    '\nfunction callback2() {\n  other();',
    { prefix: '', suffix: '\nfunction callback2() {\n  real();\n}', languageId: 'javascript' },
    '',
  ],
  ['a short line needs its followers to match', '}\nfoo();', { prefix: '  x();\n', suffix: '\n}\nbar();' }, '}\nfoo();'],
]);

golden(trimTrailingWhitespace, [
  ['per line and trailing blank lines', 'a = 1   \n  b = 2\t\n\n\n', {}, 'a = 1\n  b = 2'],
  ['leading indentation kept', '    return x  ', {}, '    return x'],
]);

golden(capLines, [
  ['caps', '1\n2\n3\n4', { maxLines: 2 }, '1\n2'],
  ['short text kept', '1\n2', { maxLines: 2 }, '1\n2'],
]);

golden(cutRepetitionLoops, [
  ['repeated line', 'a = 1\nx.append(1)\nx.append(1)\nx.append(1)\nx.append(1)', {}, 'a = 1\nx.append(1)'],
  [
    'repeated two-line block',
    'if a:\n    b()\nif a:\n    b()\nif a:\n    b()',
    {},
    'if a:\n    b()',
  ],
  ['closing braces are not a loop', '}\n}\n}', {}, '}\n}\n}'],
  ['in-line loop', 'foo(self.self.self.self.self.self.self.self.x)', {}, 'foo(self.self.'],
  ['normal code untouched', 'for i in range(3):\n    print(i)', {}, 'for i in range(3):\n    print(i)'],
]);

// Chat answers (prose with code blocks): only back-to-back loops count.
const answerWithThreeBlocks = 'A:\n```python\na = 1\n```\nB:\n```python\nb = 2\n```\nC:\n```python\nc = 3\n```';
for (const [name, input, expected] of [
  ['the loop the tiny model writes in chat', 'Example:\n``python.python`` is a simple example\n``python.python`` is a simple example\n``python.python`` is a simple example\n``python.python`` is a simple', 'Example:\n``python.python`` is a simple example'],
  ['code fences recurring across an answer are kept', answerWithThreeBlocks, answerWithThreeBlocks],
  ['in-line loop', 'It is very very very very very very very good', 'It is very very'],
] as const) {
  test(`cutRunLoops: ${name}`, () => assert.equal(cutRunLoops(input), expected));
}
test('cutRepetitionLoops (for code) would cut that answer at its third fence', () =>
  assert.notEqual(cutRepetitionLoops(answerWithThreeBlocks, ctx({})), answerWithThreeBlocks));

golden(dropEmpty, [
  ['whitespace only', '  \n\t ', {}, ''],
  ['text kept', ' x', {}, ' x'],
]);

test('postprocess: whole pipeline on a typical greedy loop', () => {
  const raw = '\n    return a + b\n\ndef add(a, b):\n    return a + b\n';
  assert.equal(postprocess(raw, ctx({ prefix: 'def add(a, b):', suffix: '' })), '\n    return a + b');
  assert.equal(postprocess('\n\n', ctx({ prefix: 'x = 1' })), undefined);
});

const at = (src: string) => ({ text: src.replace('|', ''), offset: src.indexOf('|') });
for (const [name, src, lang, want] of [
  ['middle of a line', 'x = foo(|a)\n', 'python', false],
  ['before closing bracket only', 'x = foo(|)\n', 'python', false],
  ['empty line', 'def f():\n    |\n', 'python', true],
  ['after a block opener', 'def f(a):|\n', 'python', true],
  ['in a comment', '# compute the |\nx = 1\n', 'python', false],
  ['in a string', 'x = "hello |"\n', 'python', false],
  ['C brace opener', 'int main() {|\n}\n', 'c', true],
  ['Java statement continuation', 'class A { void f() { int x = |\n}}', 'java', false],
  ['TypeScript comment', 'const a = 1; // note |\n', 'typescript', false],
  ['no grammar: line comment heuristic', '-- note |', 'sql', false],
] as const) {
  test(`decideMultiline: ${name}`, async () => {
    const { text, offset } = at(src);
    assert.equal(await decideMultiline(text, offset, lang), want);
  });
}

golden(cutRepetitionLoops, [
  [
    'long line recurring',
    'void;\nexport type FieldProcessor = (\n\trequest: string,\n) => void;\nexport type FieldProcessor = (\n\trequest: string,',
    { languageId: 'typescript' },
    'void;\nexport type FieldProcessor = (\n\trequest: string,\n) => void;',
  ],
  [
    'long phrase loop within a line',
    'string;\n * true when key is a `./foo/`-style key with no `./foo/`-style key with no `./foo/`-style key with no `./foo/`',
    {},
    'string;\n * true when key is a `./foo/`-style key with no `./foo/`-style key with no',
  ],
  ['short lines may recur twice', 'break;\n}\nbreak;\n}', {}, 'break;\n}\nbreak;\n}'],
]);
