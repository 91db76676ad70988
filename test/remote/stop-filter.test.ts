// StopFilter: streamed text never shows a stop string or its start, wherever the chunks split.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StopFilter } from '../../engine/remote/stop-filter';
import { parseRetryAfter, serverMessage } from '../../engine/remote/http-errors';

function run(stops: string[], pieces: string[]): { out: string[]; stopped: boolean } {
  const f = new StopFilter(stops);
  const out = pieces.map((p) => f.push(p));
  out.push(f.flush());
  return { out, stopped: f.stopped };
}

test('a stop string split across chunks is held back, then dropped with everything after it', () => {
  const r = run(['\nclass '], ['x = 1', '\ncl', 'ass Foo:', ' pass']);
  assert.deepEqual(r.out, ['x = 1', '', '', '', '']);
  assert.equal(r.stopped, true);
});

test('a false alarm releases the held text; the earliest of several stops wins', () => {
  assert.deepEqual(run(['\n\n'], ['a\n', 'b\n', 'c']).out, ['a', '\nb', '\nc', '']);
  assert.deepEqual(run(['END', 'ST'], ['xxSTyyEND']).out, ['xx', '']);
});

test('without a stop in the text everything comes out, the held tail at the end', () => {
  const r = run(['###'], ['ab#', '#']);
  assert.equal(r.out.join(''), 'ab##');
  assert.equal(r.stopped, false);
});

test('Retry-After as seconds or HTTP date; server messages from each error shape', () => {
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter(new Date(10_000 + 5000).toUTCString(), 10_000), 5000);
  assert.equal(parseRetryAfter('soon'), undefined);
  assert.equal(serverMessage('{"error":{"message":"m1"}}'), 'm1');
  assert.equal(serverMessage('{"object":"error","message":"m2"}'), 'm2');
  assert.equal(serverMessage('{"error":"m3","error_type":"validation"}'), 'm3');
  assert.equal(serverMessage('{"detail":"m4"}'), 'm4');
  assert.equal(serverMessage('<html>Bad Gateway</html>'), '<html>Bad Gateway</html>');
});
