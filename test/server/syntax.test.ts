// tree-sitter runs in a worker with a deadline: an input that sends the JavaScript grammar into an
// endless loop (found in a real fixture file) must cost one answer, not hang the server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cursorSyntax } from '../../server/syntax';
import { decideMultiline } from '../../server/postprocess/index';
import { ROOT } from './lsp-harness';

test('cursorSyntax: comment and string facts from the worker', async () => {
  assert.deepEqual(await cursorSyntax('x = 1  # note', 13, 'python'), { inComment: true, inString: false, inError: false });
  assert.equal((await cursorSyntax('s = "abc', 7, 'python'))?.inComment, false);
  assert.equal(await cursorSyntax('anything', 3, 'cobol'), undefined);
});

test('cursorSyntax: a grammar stuck in an endless loop times out; heuristics answer instead', async () => {
  const f = readFileSync(join(ROOT, 'test/fixtures/code-eval.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { path: string; text: string })
    .find((x) => x.path === 'ImportMetaContextDependencyParserPlugin.js')!;
  const at = f.text.indexOf('\n', Math.floor(f.text.length * 0.8));
  const text = (f.text.slice(0, at) + '\n' + 'x.x').slice(-2000);
  await cursorSyntax('let a = 1;', 5, 'javascript'); // warm the worker
  const t0 = performance.now();
  assert.equal(await cursorSyntax(text, text.length, 'javascript'), undefined);
  assert.ok(performance.now() - t0 < 1000, 'deadline kept');
  // The grammar rests after a timeout: the decision falls back to line heuristics at once.
  const t1 = performance.now();
  assert.equal(await decideMultiline(text, text.length, 'javascript'), false);
  assert.ok(performance.now() - t1 < 100);
  // Other grammars keep working (a fresh worker replaces the terminated one).
  assert.equal((await cursorSyntax('# hello', 7, 'python'))?.inComment, true);
});
