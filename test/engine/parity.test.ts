/**
 * The local engine (fp32) against Hugging Face transformers' outputs for the default model
 * (test/fixtures/neox-code-23m-reference.json): greedy continuations and beam search.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalBackend } from '../../engine/local/local-backend';

const ref = JSON.parse(readFileSync('test/fixtures/neox-code-23m-reference.json', 'utf8')) as {
  greedy: { prompt: string; input_ids: number[]; greedy_ids: number[] }[];
  beam4: { prompt: string; beam4_ids: number[] }[];
};
const cacheDir = mkdtempSync(join(tmpdir(), 'neox-parity-'));
const backend = createLocalBackend({ modelDir: 'models/neox-code-23m', quant: 'fp32', cacheDir });
test.after(async () => {
  await backend.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
});

test('at least 44 of 46 greedy continuations identical token for token (48 new, EOS 0)', async () => {
  assert.equal(ref.greedy.length, 46);
  const mismatches: number[] = [];
  for (const [i, g] of ref.greedy.entries()) {
    assert.deepEqual(await backend.tokenize(g.prompt), g.input_ids, `prompt ${i} tokenization`);
    const r = await backend.complete({ prompt: g.prompt, maxTokens: 48 });
    const c = r.choices[0]!;
    if (JSON.stringify(c.tokenIds) !== JSON.stringify(g.greedy_ids)) mismatches.push(i);
    else assert.equal(c.finishReason, g.greedy_ids.at(-1) === 0 ? 'eos' : 'length');
  }
  assert.ok(mismatches.length <= 2, `greedy mismatches: ${mismatches.join(', ')}`);
  console.log(`greedy: ${46 - mismatches.length}/46 identical`);
});

test('all 6 beam-search outputs identical (num_beams 4, 24 new, early_stopping, length_penalty 1)', async () => {
  for (const [i, b] of ref.beam4.entries()) {
    const r = await backend.complete({ prompt: b.prompt, maxTokens: 24, numBeams: 4, earlyStopping: true, lengthPenalty: 1.0 });
    assert.deepEqual(r.choices[0]!.tokenIds, b.beam4_ids, `beam case ${i}`);
  }
});

test('prefix reuse on the real model gives the same tokens as a cold prompt', async () => {
  const g = ref.greedy[3]!;
  const cold = await backend.complete({ prompt: g.prompt + 'x', maxTokens: 16 });
  await backend.complete({ prompt: g.prompt, maxTokens: 4 });
  const warm = await backend.complete({ prompt: g.prompt + 'x', maxTokens: 16 });
  assert.ok(warm.timings!.promptTokensReused! > 0);
  assert.deepEqual(warm.choices[0]!.tokenIds, cold.choices[0]!.tokenIds);
});

test('a batch of ragged prompts equals each prompt alone; n samples are seeded', async () => {
  const prompts = ref.greedy.slice(0, 3).map((g) => g.prompt);
  const batch = await backend.completeBatch(prompts, { maxTokens: 12 });
  prompts.forEach((_, i) => assert.deepEqual(batch.choices[i]!.tokenIds, ref.greedy[i]!.greedy_ids.slice(0, 12), `row ${i}`));
  const a = await backend.complete({ prompt: prompts[0]!, maxTokens: 10, temperature: 0.8, topP: 0.9, seed: 5, n: 2 });
  const b = await backend.complete({ prompt: prompts[0]!, maxTokens: 10, temperature: 0.8, topP: 0.9, seed: 5, n: 2 });
  assert.deepEqual(a.choices.map((c) => c.tokenIds), b.choices.map((c) => c.tokenIds));
});
