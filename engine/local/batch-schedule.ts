/**
 * Who runs in a step of the continuous batch (continuous-batch.ts). On a CPU a decoding step costs
 * about the same per row whatever the batch (measured on the default model: 1.9 ms for one row,
 * 10.8 ms for twelve), so a short request beside a long stream and an n=8 group would pay for all
 * nine long rows on every one of its tokens. Instead:
 *
 * - joining prompts and short requests (little left to generate) run in every step;
 * - the long ones take turns for the rest of `stepRows`, the one that waited longest for its
 *   request's share first: turns are shared by requests, not rows, so a lone long stream is not
 *   worth one ninth of an n=8 group (its tokens come one after another: it is the batch's longest
 *   path). Aging: the head of that queue always runs, even past the budget, so every long row
 *   advances at least once every few steps and nothing starves;
 * - with no short request in the batch every row runs, as nothing needs protecting.
 *
 * Which steps a row runs in does not change its tokens: each row owns its cache slots and gets the
 * numbers it gets alone (kv-runner.ts), and each row has its own random stream.
 */

/** A joining prompt, one sample row, or all the rows of a beam search (they step together). */
export interface StepUnit {
  /** Runner rows, ascending. */
  rows: number[];
  /** A prompt still going in: it takes a chunk in every step. */
  joining: boolean;
  /** Its request has little left to generate (shortWork): it advances in every step. */
  short: boolean;
  /** Steps since it last ran. */
  waited: number;
  /** Units of its request that share its request's turns (n samples: n); 1 if absent. */
  siblings?: number;
}

export interface StepPolicy {
  /** Decoding rows per step while a short request is in the batch (short rows count; they all run even past it). */
  stepRows: number;
}

/**
 * A request is short while its rows have at most this many tokens left in all (max tokens left x
 * rows): the 4-64-token completions an editor asks for, and a long request's last tokens.
 */
export const SHORT_WORK = 64;

/** The rows to run in this step, ascending. */
export function rowsToRun(units: readonly StepUnit[], policy: StepPolicy): number[] {
  const run: number[] = [];
  const longs: StepUnit[] = [];
  let decoding = 0;
  for (const u of units) {
    if (u.joining || u.short) {
      run.push(...u.rows);
      if (!u.joining) decoding += u.rows.length;
    } else longs.push(u);
  }
  if (!units.some((u) => u.short)) return units.flatMap((u) => u.rows).sort((a, b) => a - b);
  // Longest wait for the request's share first; among equals the lower rows, so turns sweep the
  // rows in order and each step's long rows tend to be neighbours (one runner call for them).
  // (waited + 1): the steps a unit's turn comes round in, so a lone stream's turns equal the group's.
  const due = (u: StepUnit) => (u.waited + 1) / (u.siblings ?? 1);
  longs.sort((a, b) => due(b) - due(a) || a.rows[0]! - b.rows[0]!);
  longs.forEach((u, i) => {
    if (i > 0 && decoding + u.rows.length > policy.stepRows) return;
    run.push(...u.rows);
    decoding += u.rows.length;
  });
  return run.sort((a, b) => a - b);
}

/** Ascending rows as runs of neighbours: [first, count] each (one runner call per run). */
export function contiguousRuns(rows: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const r of rows) {
    const last = out.at(-1);
    if (last && last[0] + last[1] === r) last[1]++;
    else out.push([r, 1]);
  }
  return out;
}
