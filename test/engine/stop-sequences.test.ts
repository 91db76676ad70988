import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StopSequenceMatcher } from '../../engine/local/decoding/stop-sequences';

function run(stops: string[], pieces: string[]) {
  const m = new StopSequenceMatcher(stops);
  const out: string[] = [];
  for (const p of pieces) {
    out.push(m.push(p));
    if (m.stopped) break;
  }
  out.push(m.flush());
  return { chunks: out.filter(Boolean), output: m.output, stopped: m.stopped };
}

test('stop string split across pieces: nothing of it leaks, text before it is kept', () => {
  const r = run(['\n\n'], ['foo', '\n', '\n', 'bar']);
  assert.deepEqual(r, { chunks: ['foo'], output: 'foo', stopped: true });
  const r2 = run(['</code>'], ['x = 1', '</', 'co', 'de>', 'more']);
  assert.deepEqual(r2, { chunks: ['x = 1'], output: 'x = 1', stopped: true });
});

test('a held-back prefix that does not become the stop string is released', () => {
  const r = run(['END'], ['a E', 'N', 'x', ' done']);
  assert.equal(r.chunks.join(''), 'a ENx done');
  assert.equal(r.stopped, false);
  assert.deepEqual(r.chunks, ['a ', 'ENx', ' done']);
  const r2 = run(['END'], ['tail E']);
  assert.deepEqual(r2.chunks, ['tail ', 'E'], 'released on flush when generation ends');
});

test('earliest of several stops wins, also inside one piece', () => {
  const r = run(['STOP', 'HALT'], ['go HALT then STOP']);
  assert.deepEqual(r, { chunks: ['go '], output: 'go ', stopped: true });
  const r2 = run(['ab', 'b'], ['xa', 'b']);
  assert.equal(r2.output, 'x');
});
