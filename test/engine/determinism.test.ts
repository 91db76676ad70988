/**
 * Every precision is a pure function of the prompt: the 46 greedy prompts of the reference, at
 * fp32, int8 and int4, give the same ids asked cold, on top of a cached prefix, and in batches of 4
 * ragged rows beside other prompts; and `neox generate --input --json` gives both copies of a line
 * the same ids, with and without --batch.
 *
 * Why it holds (engine/local/kv-runner.ts, onnx/neox-graph.ts): activations are quantized per row,
 * a row's cached tokens keep their slots whatever else is in the batch, and attention sums run in
 * the same order over them. A token flips when two logits are within rounding of each other, which
 * over 46 x up to 48 greedy steps of a 23M model happens: before each row owned its slots, 2 of 48
 * int8 and 1 of 48 int4 batched continuations differed from their cold run within 24 tokens.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadRunner, type ModelRunner } from '../../engine/local/load';
import type { Quantization } from '../../engine/local/runner';
import { argmax, MODEL_DIR, reference, tempDir } from './model-helpers';

const cacheDir = tempDir('determinism');
after(() => rmSync(cacheDir, { recursive: true, force: true }));

const greedy: { prompt: string; input_ids: number[]; greedy_ids: number[] }[] = reference().greedy;
const prompts = greedy.map((g) => g.input_ids);
/** As many tokens as the reference's greedy continuation of each prompt (it stops at EOS). */
const lengths = greedy.map((g) => g.greedy_ids.length);
const BATCH = 4;

/** Greedy continuations of `rows` as one batch; with `split`, row r's first split[r] tokens go in first (a cached prefix). */
async function continueRows(runner: ModelRunner, rows: number[][], steps: number[], split?: number[]): Promise<number[][]> {
  runner.reset(rows.length);
  if (split) await runner.forward(rows.map((p, r) => p.slice(0, split[r])));
  let logits = await runner.forward(split ? rows.map((p, r) => p.slice(split[r])) : rows);
  const out: number[][] = rows.map(() => []);
  const most = Math.max(...steps);
  for (let s = 0; s < most; s++) {
    const next = logits.map(argmax);
    next.forEach((t, r) => {
      if (out[r].length < steps[r]) out[r].push(t);
    });
    if (s < most - 1) logits = await runner.forward(next.map((t) => [t]));
  }
  return out;
}

for (const quant of ['fp32', 'int8', 'int4'] as Quantization[]) {
  test(`${quant}: 46 greedy continuations are the same cold, on a cached prefix and in batches of ${BATCH}`, async () => {
    const runner = await loadRunner({ modelDir: MODEL_DIR, quant, cacheDir });
    try {
      const cold: number[][] = [];
      for (let i = 0; i < prompts.length; i++) cold.push((await continueRows(runner, [prompts[i]], [lengths[i]]))[0]);
      assert.ok(cold.every((ids, i) => ids.length === lengths[i]), 'every continuation has its full length');

      // A cached prefix: the first 60% of the prompt computed first, the rest on top of it.
      for (let i = 0; i < prompts.length; i++) {
        const cut = Math.max(1, Math.floor(prompts[i].length * 0.6));
        const [ids] = await continueRows(runner, [prompts[i]], [lengths[i]], [cut]);
        assert.deepEqual(ids, cold[i], `prompt ${i} on a cached prefix of ${cut} tokens`);
      }

      // Ragged batches: each prompt beside three others of other lengths, in every row position.
      for (let i = 0; i < prompts.length; i++) {
        const members = Array.from({ length: BATCH }, (_, k) => (i + 11 * k) % prompts.length);
        const got = await continueRows(runner, members.map((m) => prompts[m]), members.map((m) => lengths[m]));
        members.forEach((m, k) => assert.deepEqual(got[k], cold[m], `prompt ${m} in row ${k} of a batch with ${members.join(', ')}`));
        i += BATCH - 1;
      }
    } finally {
      await runner.dispose();
    }
  });
}

function neox(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'engine/cli/neox.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

test('neox generate --quant int8 --input --json: each line given twice gets the same ids, alone and with --batch 4', async () => {
  const input = join(cacheDir, 'twice.jsonl');
  const picked = greedy.filter((g) => g.greedy_ids.length === 48).slice(0, 10);
  // Copies apart (the second after the others ran) and side by side (in one batch of 4).
  const rows = [...picked, ...picked.slice().reverse()].map((g) => JSON.stringify({ prompt: g.prompt, max_tokens: 24 }));
  writeFileSync(input, rows.join('\n') + '\n');
  const ids = (stdout: string) => stdout.trim().split('\n').map((l) => (JSON.parse(l) as { ids: number[] }).ids);
  const args = ['generate', '--quant', 'int8', '--cache-dir', cacheDir, '--input', input, '--json'];
  const alone = await neox(args);
  assert.equal(alone.code, 0, alone.stderr);
  const batched = await neox([...args, '--batch', '4']);
  assert.equal(batched.code, 0, batched.stderr);
  for (const [name, out] of [['alone', ids(alone.stdout)], ['--batch 4', ids(batched.stdout)]] as const) {
    assert.equal(out.length, rows.length, name);
    for (let i = 0; i < picked.length; i++) {
      assert.ok(out[i].length > 0, `${name}: line ${i + 1} has tokens`);
      assert.deepEqual(out[rows.length - 1 - i], out[i], `${name}: lines ${i + 1} and ${rows.length - i} (the same prompt)`);
    }
  }
  assert.deepEqual(ids(batched.stdout), ids(alone.stdout), 'the batched run gives every line the ids of the unbatched one');
});
