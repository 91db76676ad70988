// Quality of the quantized engine on the real default model (models/neox-code-23m), measured on
// ALL 100 files of test/fixtures/code-eval.jsonl (first 1024 tokens each, 74,168 predicted tokens)
// against the fp32 reference perplexity computed by Hugging Face transformers (our fp32 engine
// matches it to 1e-7: test/engine/model-*.test.ts):
//   int8 within 0.5% (measured +0.04%); int4 block 32 within 3% (measured +1.56%); the scale search beats plain absmax rounding
//   (RTN) at block 32 and 128; int4 greedy continuations agree with the fp32 reference on the
//   first 8 tokens for most of the 46 prompts (int4 builds of checkpoints are GPTQ-calibrated on
//   engine/local/quant/calibration-text.ts, which is not this eval data).
// Slow by nature (each configuration is ~2 TFLOP of forward passes: ~1 min per configuration on
// 2 free cores), so every configuration is built and evaluated once, in this one process.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRunner } from '../../engine/local/load';
import type { LoadOptions } from '../../engine/local/runner';
import { evalTokens, greedy, MODEL_DIR, perplexity, reference } from './quant-eval';

const cacheDir = mkdtempSync(join(tmpdir(), 'neox-quant-ppl-'));
after(() => rmSync(cacheDir, { recursive: true, force: true }));

const files = evalTokens();
const refPpl = reference.eval_ppl.ppl;
const measured: Record<string, number> = {};

/** Perplexity of one configuration, built and evaluated once however many tests ask (in any order). */
const pplRuns = new Map<string, Promise<number>>();
function pplOf(name: string, opts: Omit<LoadOptions, 'modelDir'>): Promise<number> {
  let run = pplRuns.get(name);
  if (!run) {
    run = evaluate(name, opts);
    pplRuns.set(name, run);
  }
  return run;
}

async function evaluate(name: string, opts: Omit<LoadOptions, 'modelDir'>): Promise<number> {
  const runner = await loadRunner({ modelDir: MODEL_DIR, cacheDir, threads: 2, ...opts });
  try {
    const res = await perplexity(runner, files);
    assert.equal(res.tokens, reference.eval_ppl.tokens, 'token count differs from the reference (tokenizer?)');
    measured[name] = res.ppl;
    console.log(`# ${name}: ppl ${res.ppl.toFixed(4)} (fp32 reference ${refPpl.toFixed(4)}, ${(100 * (res.ppl / refPpl - 1)).toFixed(2)}%)`);
    return res.ppl;
  } finally {
    await runner.dispose();
  }
}

test('int8: perplexity within 0.1% of fp32', async () => {
  const ppl = await pplOf('int8', { quant: 'int8' });
  assert.ok(ppl / refPpl - 1 < 0.001, `int8 ppl ${ppl} vs fp32 ${refPpl}`);
});

test('int4 block 32 (scale search): perplexity within 3% of fp32', async () => {
  const ppl = await pplOf('int4-b32-search', { quant: 'int4', blockSize: 32 });
  assert.ok(ppl / refPpl - 1 < 0.03, `int4 b32 ppl ${ppl} vs fp32 ${refPpl}`);
});

/** Prompts (of the 46) whose first 8 greedy tokens equal the fp32 reference's. */
let greedyAgree: number | undefined;
async function int4GreedyAgreement(): Promise<number> {
  if (greedyAgree !== undefined) return greedyAgree;
  const runner = await loadRunner({ modelDir: MODEL_DIR, cacheDir, threads: 2, quant: 'int4', blockSize: 32 });
  try {
    let agree = 0;
    const misses: number[] = [];
    for (const [i, g] of reference.greedy.entries()) {
      const want = g.greedy_ids.slice(0, 8);
      const got = await greedy(runner, g.input_ids, want.length);
      if (got.length === want.length && got.every((t, j) => t === want[j])) agree++;
      else misses.push(i);
    }
    console.log(`# int4-b32 greedy: ${agree}/${reference.greedy.length} prompts agree on the first 8 tokens (differ: ${misses.join(',')})`);
    greedyAgree = agree;
    return agree;
  } finally {
    await runner.dispose();
  }
}

// Agreement over 46 prompts is a coarse statistic: any last-bit difference between kernels flips
// the prompts whose top two tokens nearly tie. Measured with GPTQ (2048 calibration tokens) and int8
// blocks for the head: 33/46 on an AVX-512 EPYC, 34/46 on the same build under an emulated AVX2-only
// processor (qemu-x86_64 -cpu EPYC-Rome) — 72-74% against issue 3's 70% target. The uncalibrated
// scale search agreed on 26/46 (quant/policy.ts lists every variant measured). The bound, 30/46,
// sits between the two: it fails when calibration stops working, not on a near-tie flip.
test('int4 block 32 greedy: agrees with the fp32 reference on 8 tokens for >= 30 of 46 prompts', async () => {
  assert.equal(reference.greedy.length, 46);
  const agree = await int4GreedyAgreement();
  assert.ok(agree >= 30, `${agree}/46 prompts agree`);
});

test('int4 block 32: the scale search beats plain absmax rounding', async () => {
  const srch = await pplOf('int4-b32-search', { quant: 'int4', blockSize: 32 });
  const rtn = await pplOf('int4-b32-rtn', { quant: 'int4', blockSize: 32, int4Scales: 'rtn' });
  assert.ok(srch < rtn, `search ${srch} vs rtn ${rtn}`);
});

test('int4 block 128: the scale search beats plain absmax rounding', async () => {
  const srch = await pplOf('int4-b128-search', { quant: 'int4', blockSize: 128 });
  const rtn = await pplOf('int4-b128-rtn', { quant: 'int4', blockSize: 128, int4Scales: 'rtn' });
  assert.ok(srch < rtn, `search ${srch} vs rtn ${rtn}`);
  console.log(`# summary ${JSON.stringify({ fp32Reference: refPpl, ...measured })}`);
});
