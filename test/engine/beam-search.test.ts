/**
 * Beam search on hand-made distributions where the Hugging Face rules decide the answer.
 * (The real-model fixture check is in parity.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { beamSearch } from '../../engine/local/decoding/beam-search';
import { ScriptedRunner } from './helpers/scripted-runner';

const EOS = 0;
const decode = { decode: (ids: number[]) => ids.map((i) => 'EABCD'[i]).join('') };
/** Log-probabilities given the generated suffix (history after the 1-token prompt). */
function model(table: Record<string, number[]>) {
  return (h: readonly number[]) => {
    const key = h.slice(1).map((i) => 'EABCD'[i]).join('');
    const p = table[key] ?? [0.96, 0.01, 0.01, 0.01, 0.01];
    return Float32Array.from(p.map(Math.log));
  };
}

async function run(table: Record<string, number[]>, opts: { numBeams: number; maxTokens: number; lengthPenalty?: number; earlyStopping?: boolean; numReturn?: number }) {
  const runner = new ScriptedRunner(model(table), { vocabSize: 5 });
  runner.reset(1);
  const [logits] = await runner.forward([[4]]);
  return beamSearch(runner, decode, logits!, { ...opts, eosTokenId: EOS });
}

test('finds the higher-probability sequence that greedy misses', async () => {
  // greedy: A (0.5) then B (0.4) = 0.20; beam: B (0.4) then C (0.9) = 0.36 (no ties anywhere)
  const table = { '': [0, 0.5, 0.4, 0.1, 0], A: [0, 0.2, 0.4, 0.3, 0.1], B: [0, 0.05, 0.05, 0.9, 0] };
  const beams = await run(table, { numBeams: 2, maxTokens: 2, numReturn: 2 });
  // The two best of all 2-token sequences: BC (0.36), then AB (0.20).
  assert.deepEqual(beams.map((b) => b.ids), [[2, 3], [1, 2]]);
  assert.deepEqual(beams.map((b) => b.text), ['BC', 'AB']);
  assert.deepEqual(beams.map((b) => b.finishReason), ['length', 'length']);
  // One beam is greedy search: it commits to A and ends on AB, missing BC.
  const [greedy] = await run(table, { numBeams: 1, maxTokens: 2 });
  assert.deepEqual(greedy!.ids, [1, 2]);
  assert.equal(greedy!.text, 'AB');
});

test('EOS hypotheses: scored with the EOS counted in the length; length_penalty favours longer ones', async () => {
  // "A<eos>": 0.6*0.5 = 0.3 over 2 tokens; "BCD": 0.4*1*0.9 = 0.36 over 3 tokens (ends at max length).
  const table = {
    '': [0, 0.6, 0.4, 0, 0],
    A: [0.5, 0.2, 0.2, 0.1, 0],
    AA: [1, 0, 0, 0, 0],
    AB: [1, 0, 0, 0, 0],
    AC: [1, 0, 0, 0, 0],
    B: [0, 0, 0, 1, 0],
    BC: [0.1, 0, 0, 0, 0.9],
  };
  const res = await run(table, { numBeams: 2, maxTokens: 3, numReturn: 2 });
  assert.deepEqual(res.map((r) => r.ids), [[2, 3, 4], [1, 0]]);
  assert.deepEqual(res.map((r) => r.finishReason), ['length', 'eos']);
  assert.equal(res[1]!.text, 'A', 'the EOS token is not part of the text');
  // A strongly negative length penalty prefers the short finished hypothesis.
  const short = await run(table, { numBeams: 2, maxTokens: 3, lengthPenalty: -3 });
  assert.deepEqual(short[0]!.ids, [1, 0]);
});

test('an EOS candidate ranked below num_beams is not a hypothesis; early_stopping stops at num_beams finished', async () => {
  // Step 1: A 0.5, B 0.3, EOS 0.2 -> with 2 beams, EOS ranks 3rd: discarded.
  // Step 2: both beams end with EOS at once -> 2 finished -> early stop before max length.
  const table = { '': [0.2, 0.5, 0.3, 0, 0], A: [0.9, 0.1, 0, 0, 0], B: [0.9, 0, 0.1, 0, 0] };
  const res = await run(table, { numBeams: 2, maxTokens: 10, earlyStopping: true, numReturn: 2 });
  assert.deepEqual(res.map((r) => r.ids), [[1, 0], [2, 0]]);
});
