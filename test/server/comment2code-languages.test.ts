// "Generate code from comment" in eight languages through the real language server and the default
// model: a comment in each language's own syntax (server/languages.ts) is found, steered into code by
// snippets/from-comment/<lang>.txt, and gives at least one line of code (server/comment.ts codeLines:
// not blank, not a comment of that language); what streamed is the result.
import { after, before, describe, test as nodeTest } from 'node:test';
import assert from 'node:assert/strict';
import { codeLines } from '../../server/comment';
import { startServer, type Harness } from './lsp-harness';

const test = (name: string, fn: () => Promise<void>) => nodeTest(name, { timeout: 120_000 }, fn);

const cases: { lang: string; file: string; text: string }[] = [
  { lang: 'python', file: 'area.py', text: '# return the area of a circle of radius r\n' },
  { lang: 'javascript', file: 'sum.js', text: '/* return the sum of an array of numbers */\n' },
  { lang: 'ruby', file: 'greet.rb', text: '# return a greeting for name\n' },
  { lang: 'lua', file: 'max.lua', text: '--[[ return the largest number in a table ]]\n' },
  { lang: 'sql', file: 'users.sql', text: '-- the names of all users older than 30\n' },
  { lang: 'haskell', file: 'Square.hs', text: '-- | the square of a number\n' },
  { lang: 'shellscript', file: 'count.sh', text: '#!/bin/sh\n# print the numbers from 1 to 10\n' },
  { lang: 'html', file: 'index.html', text: '<!-- a heading that says Hello -->\n' },
];

describe('generate code from comment in every language, real model', () => {
  let h: Harness;
  before(async () => {
    h = await startServer({ debounceMs: 0 });
    await h.waitReady(300_000);
  });
  after(async () => {
    await h?.close();
  });

  for (const c of cases) {
    test(`${c.lang}: ${c.text.trim().split('\n').pop()} -> code`, async () => {
      const uri = `file:///work/project/${c.file}`;
      await h.open(uri, c.lang, c.text);
      const streamId = `c2c-lang-${c.lang}`;
      const line = c.text.split('\n').length - 1;
      const r = await h.conn.sendRequest<{ text: string; comment: string }>('neox/generateFromComment', { streamId, textDocument: { uri }, position: { line, character: 0 } });
      assert.ok(r.comment.length > 0 && !/^(#|--|<!--|\/\*)/.test(r.comment), `the comment's text without markers: ${JSON.stringify(r.comment)}`);
      assert.ok(codeLines(r.text, c.lang).length > 0, `no ${c.lang} code line in ${JSON.stringify(r.text)}`);
      const streamed = h.streams.filter((s) => s.streamId === streamId).map((s) => s.delta).join('');
      assert.equal('\n' + streamed, r.text);
    });
  }
});
