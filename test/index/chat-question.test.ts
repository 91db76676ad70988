// Which chat questions bring workspace chunks: those that name code, not plain-language requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { namesWorkspaceCode } from '../../server/index/chat-sources';

test('a question naming code (snake_case, camelCase, dotted, a call, a file) brings workspace chunks; plain words do not', () => {
  for (const q of ['What does compute_late_fee charge?', 'How does parseConfig work?', 'what is in utils.py', 'explain self.cache', 'who calls render( here']) {
    assert.equal(namesWorkspaceCode(q), true, q);
  }
  for (const q of ['Now write a function that sums a list.', 'Why is this slow?', '用 Python 写一个函数，返回列表的和', 'Example:\n```python\ndef add_one(a):\n    return a + 1\n```\nNow write one that sums a list.']) {
    assert.equal(namesWorkspaceCode(q), false, q);
  }
});
