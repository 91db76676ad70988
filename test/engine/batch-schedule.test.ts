/**
 * The step policy of continuous batching (engine/local/batch-schedule.ts) as a pure function: who
 * runs in each step. Short requests and joining prompts run in every step, long rows take turns for
 * the rest of the row budget (longest wait first), nothing starves, and with no short request every
 * row runs. The batch itself under this policy is tested in continuous-batch.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contiguousRuns, rowsToRun, type StepUnit } from '../../engine/local/batch-schedule';

const unit = (rows: number[], o: Partial<StepUnit> = {}): StepUnit => ({ rows, joining: false, short: false, waited: 0, ...o });
const policy = { stepRows: 4 };
const tight = { stepRows: 2 };

/** Steps of a batch that keeps its units: each step's rows, with `waited` kept as the batch keeps it. */
function simulate(units: StepUnit[], steps: number, p = policy): number[][] {
  const out: number[][] = [];
  for (let s = 0; s < steps; s++) {
    const run = rowsToRun(units, p);
    out.push(run);
    for (const u of units) u.waited = run.includes(u.rows[0]!) ? 0 : u.waited + 1;
  }
  return out;
}

test('with no short request every row runs', () => {
  const units = [unit([0]), unit([1, 2, 3], { waited: 2 }), ...[4, 5, 6, 7, 8].map((r) => unit([r])), unit([9], { joining: true })];
  assert.deepEqual(rowsToRun(units, policy), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('short rows and joining prompts run; long rows fill the rest of the budget, longest wait first', () => {
  const units = [
    unit([0], { waited: 1 }),
    unit([1], { waited: 3 }),
    unit([2], { waited: 3 }),
    unit([3], { waited: 0 }),
    unit([4], { short: true }),
    unit([5], { short: true, joining: true }), // a joining prompt does not count against the decoding rows
    unit([6], { joining: true }),
  ];
  assert.deepEqual(rowsToRun(units, policy), [0, 1, 2, 4, 5, 6]);
});

test('short requests beside a long stream and an n=8 group: they run in every step, the nine long rows in turns', () => {
  const long = [unit([0]), ...[1, 2, 3, 4, 5, 6, 7, 8].map((r) => unit([r]))];
  const shorts = [unit([9], { short: true }), unit([10], { short: true })];
  const steps = simulate([...long, ...shorts], 18);
  for (const run of steps) {
    assert.ok(run.includes(9) && run.includes(10), `both short rows in ${JSON.stringify(run)}`);
    assert.equal(run.length, 4, `two long rows beside the two short ones: ${JSON.stringify(run)}`);
  }
  // Turns sweep the long rows in order, two neighbours at a time.
  assert.deepEqual(steps.slice(0, 5).map((r) => r.filter((x) => x < 9)), [[0, 1], [2, 3], [4, 5], [6, 7], [0, 8]]);
  for (let r = 0; r < 9; r++) {
    const ran = steps.flatMap((run, s) => (run.includes(r) ? [s] : []));
    const gaps = ran.slice(1).map((s, i) => s - ran[i]!);
    assert.ok(ran[0]! <= 4 && Math.max(...gaps) <= 5, `long row ${r} ran in steps ${ran}`);
  }
});

test('turns are shared by requests: a lone long stream runs about as often as the whole n=8 group', () => {
  const stream = unit([0]);
  const group = [1, 2, 3, 4, 5, 6, 7, 8].map((r) => unit([r], { siblings: 8 }));
  const steps = simulate([stream, ...group, unit([9], { short: true }), unit([10], { short: true })], 96, tight);
  const longs = steps.map((run) => run.filter((r) => r < 9));
  assert.ok(longs.every((l) => l.length === 1), 'the budget leaves no long row beside two short ones: the head of the turns runs');
  const streamTurns = longs.filter((l) => l[0] === 0).length;
  assert.ok(streamTurns >= 43 && streamTurns <= 53, `the stream ran in ${streamTurns} of 96 steps`);
  for (let r = 1; r <= 8; r++) assert.ok(longs.filter((l) => l[0] === r).length >= 1, `group row ${r} ran`);
});

test('nothing starves: with more short rows than the budget, one long unit still runs per step, a beam group as a whole', () => {
  const units = [unit([0, 1, 2, 3]), unit([4]), unit([5]), ...[6, 7, 8, 9, 10].map((r) => unit([r], { short: true }))];
  const steps = simulate(units, 6);
  for (const run of steps) {
    assert.deepEqual(run.filter((r) => r >= 6), [6, 7, 8, 9, 10]);
    const longs = run.filter((r) => r < 6);
    assert.ok([[0, 1, 2, 3], [4], [5]].some((u) => JSON.stringify(u) === JSON.stringify(longs)), `one long unit: ${JSON.stringify(longs)}`);
  }
  // Each long unit within every three steps.
  for (const r of [0, 4, 5]) assert.ok(steps.slice(0, 3).some((run) => run.includes(r)) && steps.slice(3).some((run) => run.includes(r)), `unit of row ${r}`);
  // The beam group's rows run together or not at all.
  for (const run of steps) assert.ok([0, 1, 2, 3].every((r) => run.includes(r)) || [0, 1, 2, 3].every((r) => !run.includes(r)));
});

test('contiguousRuns: one runner call per run of neighbouring rows', () => {
  assert.deepEqual(contiguousRuns([0, 1, 2, 5, 7, 8]), [[0, 3], [5, 1], [7, 2]]);
  assert.deepEqual(contiguousRuns([]), []);
});
