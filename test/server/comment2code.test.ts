// "Generate code from comment" through the real language server and the default model: a few
// comments from bench/comment2code.jsonl (Python and JavaScript) give at least one line of code, and
// the text streamed is the final text (the client shows it from a new line below the comment).
import { after, before, describe, test as nodeTest } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { codeLines } from '../../server/comment';
import { ROOT, startServer, type Harness } from './lsp-harness';

const test = (name: string, fn: () => Promise<void>) => nodeTest(name, { timeout: 120_000 }, fn);

const cases = readFileSync(join(ROOT, 'bench/comment2code.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as { lang: string; file: string; text: string })
  .filter((c) => ['fib.py', 'primes.py', 'jsonio.py', 'fib.js', 'fetch.js'].includes(c.file));

describe('generate code from comment, real model', () => {
  let h: Harness;
  before(async () => {
    h = await startServer({ debounceMs: 0 });
    await h.waitReady(300_000);
  });
  after(async () => {
    await h?.close();
  });

  for (const c of cases) {
    test(`${c.file}: ${c.text.trim().split('\n').pop()} -> code, streamed as it ends`, async () => {
      const uri = `file:///work/project/${c.file}`;
      await h.open(uri, c.lang, c.text);
      const streamId = `c2c-${c.file}`;
      const line = c.text.split('\n').length - 1;
      const r = await h.conn.sendRequest<{ text: string }>('neox/generateFromComment', { streamId, textDocument: { uri }, position: { line, character: 0 } });
      assert.ok(codeLines(r.text, c.lang).length > 0, `no code line in ${JSON.stringify(r.text)}`);
      const streamed = h.streams.filter((s) => s.streamId === streamId).map((s) => s.delta).join('');
      assert.equal('\n' + streamed, r.text);
    });
  }

  test('a description gives a file with code, streamed as it ends', async () => {
    const r = await h.conn.sendRequest<{ text: string }>('neox/generateFile', { streamId: 'gf-c2c', description: 'Return the n-th fibonacci number.', fileName: 'fib.py' });
    assert.ok(r.text.startsWith('# Return the n-th fibonacci number.\n'));
    assert.ok(codeLines(r.text, 'python').length > 0, r.text);
    assert.equal(h.streams.filter((s) => s.streamId === 'gf-c2c').map((s) => s.delta).join(''), r.text);
  });
});
