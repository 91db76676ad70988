// Golden cases of inline post-processing are data files (test/fixtures/postprocess, run through the
// whole pipeline by postprocess-golden.test.ts). Here: only what that pipeline cannot show, the loop
// rule for prose (chat answers), which inline completions never use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cutRepetitionLoops, cutRunLoops } from '../../server/postprocess/repetition';
import type { PostprocessContext } from '../../server/postprocess/types';

// Chat answers (prose with code blocks): only back-to-back loops count.
const answerWithThreeBlocks = 'A:\n```python\na = 1\n```\nB:\n```python\nb = 2\n```\nC:\n```python\nc = 3\n```';
for (const [name, input, expected] of [
  [
    'the loop the tiny model writes in chat',
    'Example:\n``python.python`` is a simple example\n``python.python`` is a simple example\n``python.python`` is a simple example\n``python.python`` is a simple',
    'Example:\n``python.python`` is a simple example',
  ],
  ['code fences recurring across an answer are kept', answerWithThreeBlocks, answerWithThreeBlocks],
  ['in-line loop', 'It is very very very very very very very good', 'It is very very'],
] as const) {
  test(`cutRunLoops: ${name}`, () => assert.equal(cutRunLoops(input), expected));
}

test('cutRepetitionLoops (for code) would cut that answer at its third fence', () => {
  const ctx: PostprocessContext = { languageId: 'markdown', prefix: '', suffix: '', multiline: true, maxLines: 20 };
  assert.notEqual(cutRepetitionLoops(answerWithThreeBlocks, ctx), answerWithThreeBlocks);
});
