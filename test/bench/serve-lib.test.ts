// The pure parts of bench:serve and soak:serve (bench/serve-lib.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evalPrompts, pct, rssMb, seededRandom } from '../../bench/serve-lib';

test('pct is the nearest-rank percentile; NaN for no values', () => {
  const xs = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
  assert.equal(pct(xs, 50), 5);
  assert.equal(pct(xs, 95), 10);
  assert.equal(pct(xs, 10), 1);
  assert.equal(pct([42], 99), 42);
  assert.ok(Number.isNaN(pct([], 50)));
});

test('seededRandom repeats its sequence for a seed and differs between seeds, within [0, 1)', () => {
  const a = seededRandom(7);
  const b = seededRandom(7);
  const c = seededRandom(8);
  const sa = Array.from({ length: 100 }, a);
  assert.deepEqual(Array.from({ length: 100 }, b), sa);
  assert.notDeepEqual(Array.from({ length: 100 }, c), sa);
  assert.ok(sa.every((x) => x >= 0 && x < 1));
  assert.ok(new Set(sa).size === 100);
});

test('evalPrompts are distinct prefixes of the asked length; rssMb reads this process', () => {
  const p = evalPrompts(300);
  assert.ok(p.length >= 20);
  assert.ok(p.every((t) => t.length === 300));
  assert.equal(new Set(p).size, p.length);
  const rss = rssMb(process.pid);
  assert.ok(rss !== undefined && rss > 10 && rss < 100_000, String(rss));
  assert.equal(rssMb(2 ** 22 + 12345), undefined);
});
