// Loops are cut while streaming (server/postprocess/loop-stream.ts): what was shown is never taken
// back, the stream stops at the loop, and the batch rule gives the same text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoopStream, cutLoops, type LoopKind } from '../../server/postprocess/loop-stream';

/** Streams `chunks`; returns what was shown after each chunk, the total and where it stopped. */
function stream(chunks: string[], kind: LoopKind) {
  const s = new LoopStream(kind);
  const shown: string[] = [];
  let pushed = 0;
  for (const c of chunks) {
    if (s.stopped) break;
    shown.push(s.push(c));
    pushed++;
  }
  shown.push(s.end());
  return { text: shown.join(''), shown, pushed, stopped: s.stopped };
}

test('a repeated comment line: the first copy streams, the stream stops at the third', () => {
  const line = '# return the n-th fibonacci number\n';
  const chunks = Array.from({ length: 30 }, () => line.split(/(?<= )/)).flat();
  const r = stream(chunks, 'code');
  assert.equal(r.text, '# return the n-th fibonacci number');
  assert.ok(r.stopped);
  assert.ok(r.pushed < chunks.length / 10, `stopped after ${r.pushed} of ${chunks.length} chunks`);
});

test('a two-line block three times: the second copy is held back, never shown', () => {
  const chunks = ['x = f(a)\n', 'y = g(b)\n', 'x = f(a)\n', 'y = g(b)\n', 'x = f(a)\n', 'y = g(b)\n', 'z = 1\n'];
  const r = stream(chunks, 'prose');
  assert.equal(r.text, 'x = f(a)\ny = g(b)');
  assert.equal(r.shown.slice(0, 4).join(''), 'x = f(a)\ny = g(b)', 'nothing of the second copy shown');
});

test('held lines are released when the loop does not happen', () => {
  const chunks = ['a = 1\n', 'b = 2\n', 'a = 1\n', 'c = 3\n'];
  const r = stream(chunks, 'prose');
  assert.equal(r.text, 'a = 1\nb = 2\na = 1\nc = 3\n');
  assert.equal(r.stopped, false);
});

test('an in-line loop in prose keeps two copies and stops', () => {
  const chunks = ['This', ' function', ' is', ...Array.from({ length: 40 }, () => ' a simple example of')];
  const r = stream(chunks, 'prose');
  assert.equal(r.text, 'This function is a simple example of a simple example of');
  assert.ok(r.pushed <= 7, `pushed ${r.pushed}`);
});

test('fuzz: token-by-token streaming equals the batch rule, for code and prose', () => {
  let seed = 7;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  const lines = ['return x', '}', '', 'if (a) {', '    total += value_of_item', '# note', 'ab ab ab ', 'x'];
  for (let round = 0; round < 400; round++) {
    const text = Array.from({ length: 3 + rand(14) }, () => lines[rand(lines.length)]!).join('\n');
    const chunks: string[] = [];
    for (let i = 0; i < text.length; ) {
      const n = 1 + rand(6);
      chunks.push(text.slice(i, i + n));
      i += n;
    }
    for (const kind of ['code', 'prose'] as const) {
      const r = stream(chunks, kind);
      assert.equal(r.text, cutLoops(text, kind), JSON.stringify({ text, kind }));
      assert.ok(text.startsWith(r.text));
    }
  }
});
