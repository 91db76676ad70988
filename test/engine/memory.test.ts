/**
 * The memory estimate and check (engine/local/memory.ts), the model catalogue (engine/catalogue.json)
 * and `neox models --json`. No model is built: the check runs before any conversion.
 */
import { INT8_BLOCK } from '../../engine/local/quant/int8';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../engine/local/config';
import { availableMemory, checkMemory, estimateMemory, fitsIn, parameterCount } from '../../engine/local/memory';
import { ensureModel } from '../../engine/local/model-cache';
import { catalogue, computedParameters, listCatalogue } from '../../engine/catalogue';
import { NeoxError } from '../../engine/types';

// EleutherAI/gpt-neox-20b's config.json (the fields the engine reads).
const NEOX_20B = parseConfig({
  architectures: ['GPTNeoXForCausalLM'],
  hidden_size: 6144,
  intermediate_size: 24576,
  num_attention_heads: 64,
  num_hidden_layers: 44,
  max_position_embeddings: 2048,
  rotary_pct: 0.25,
  rotary_emb_base: 10000,
  vocab_size: 50432,
  use_parallel_residual: true,
  tie_word_embeddings: false,
});
const GB = 1e9;

function memoryError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof NeoxError, String(e));
    assert.equal(e.code, 'memory_insufficient');
    return e.message;
  }
  assert.fail('expected a memory_insufficient error');
}

test('20B: the estimate follows the parameter count, the precision and the measured 20B figures', () => {
  assert.equal(parameterCount(NEOX_20B), 20_554_567_680, 'transformers counts 20,554,567,680 parameters');
  const fp32 = estimateMemory(NEOX_20B, { quant: 'fp32' });
  const int8 = estimateMemory(NEOX_20B, { quant: 'int8' });
  const int4 = estimateMemory(NEOX_20B, { quant: 'int4' });
  assert.ok(fp32.weightsBytes > 80 * GB && fp32.weightsBytes < 83 * GB, `fp32 weights ${fp32.weightsBytes}`);
  // one byte and a float32 scale per block of INT8_BLOCK weights, against four bytes
  const int8Ratio = (1 + 4 / INT8_BLOCK) / 4;
  assert.ok(Math.abs(int8.weightsBytes / fp32.weightsBytes - int8Ratio) < 0.01, `int8 weights ${int8.weightsBytes}`);
  assert.ok(int4.weightsBytes < 0.6 * int8.weightsBytes);
  assert.equal(int4.kvCacheBytes, 2 * 44 * 2048 * 6144 * 4, 'float32 keys and values of 44 layers at 2048 tokens');
  // README Performance: the int4 block-128 conversion peaked at 4.1 GB, the loaded model at 12.85 GB
  // RSS with a 64-token prompt and 64 generated tokens.
  const b128 = estimateMemory(NEOX_20B, { quant: 'int4', blockSize: 128 }, { contextTokens: 128 });
  assert.ok(Math.abs(b128.buildBytes - 4.1 * GB) < 0.3 * GB, `build peak ${b128.buildBytes}`);
  assert.ok(b128.runBytes > 12.85 * GB && b128.runBytes < 14 * GB, `run peak ${b128.runBytes}`);
  assert.equal(estimateMemory(NEOX_20B, { quant: 'int4' }, { build: false }).totalBytes, int4.runBytes);
});

test('20B with 22 GB free: fp32 and int8 stop naming the need, the free memory and int4; int4 goes ahead', () => {
  const fp32 = memoryError(() => checkMemory(NEOX_20B, { quant: 'fp32' }, { freeBytes: 22 * GB, name: 'gpt-neox-20b' }));
  assert.match(fp32, /^gpt-neox-20b at fp32 needs about 95\.\d GB of memory/);
  assert.match(fp32, /22\.0 GB is available/);
  assert.match(fp32, /At int4 it would fit \(about 19\.\d GB\): use --quant int4/);
  const int8 = memoryError(() => checkMemory(NEOX_20B, { quant: 'int8' }, { freeBytes: 22 * GB }));
  assert.match(int8, /at int8 needs about 29\.\d GB/);
  assert.match(int8, /At int4 it would fit/);
  const ok = checkMemory(NEOX_20B, { quant: 'int4' }, { freeBytes: 22 * GB });
  assert.ok(ok.totalBytes < 22 * GB);
});

test('20B with 18.5 GB free: int4 at block size 32 does not fit, block size 128 does and is named', () => {
  const msg = memoryError(() => checkMemory(NEOX_20B, { quant: 'int4' }, { freeBytes: 18.5 * GB }));
  assert.match(msg, /18\.5 GB is available/);
  assert.match(msg, /At int4 \(block size 128\) it would fit .*--quant int4 --block-size 128/);
});

test('20B with a tiny free memory: the message says no precision fits and what the smallest needs', () => {
  for (const quant of ['fp32', 'int8', 'int4'] as const) {
    const msg = memoryError(() => checkMemory(NEOX_20B, { quant }, { freeBytes: 2 * GB }));
    assert.match(msg, /2\.0 GB is available/);
    assert.match(msg, /No precision fits: even int4 \(block size 128\) needs about 17\.\d GB/);
  }
});

test('available memory: the option, NEOX_ASSUME_FREE_MEMORY_MB, else a positive figure from this machine', () => {
  assert.deepEqual(availableMemory(5e9), { bytes: 5e9, source: 'option' });
  assert.deepEqual(availableMemory(undefined, { NEOX_ASSUME_FREE_MEMORY_MB: '16000' }), { bytes: 16e9, source: 'NEOX_ASSUME_FREE_MEMORY_MB' });
  assert.throws(() => availableMemory(undefined, { NEOX_ASSUME_FREE_MEMORY_MB: 'lots' }), /NEOX_ASSUME_FREE_MEMORY_MB must be a number/);
  const here = availableMemory(undefined, {});
  assert.ok(here.bytes > 0, JSON.stringify(here));
  assert.ok(fitsIn(1e9, 2e9) && !fitsIn(1.6e9, 2e9), 'a 512 MiB margin stays free');
});

test('ensureModel stops before converting when NEOX_ASSUME_FREE_MEMORY_MB is too small, and builds nothing', () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'neox-memory-'));
  const saved = process.env.NEOX_ASSUME_FREE_MEMORY_MB;
  process.env.NEOX_ASSUME_FREE_MEMORY_MB = '1';
  try {
    const msg = memoryError(() => ensureModel({ modelDir: 'models/neox-code-23m', quant: 'fp32', cacheDir }));
    assert.match(msg, /^models\/neox-code-23m at fp32 needs about 0\.\d GB .*1 MB is available \(NEOX_ASSUME_FREE_MEMORY_MB\).*No precision fits/);
    assert.deepEqual(readdirSync(cacheDir), [], 'no build started');
  } finally {
    if (saved === undefined) delete process.env.NEOX_ASSUME_FREE_MEMORY_MB;
    else process.env.NEOX_ASSUME_FREE_MEMORY_MB = saved;
    rmSync(cacheDir, { recursive: true, force: true });
  }
});

const REPOS = [
  ...['70m', '160m', '410m', '1b', '1.4b', '2.8b', '6.9b', '12b'].map((s) => `EleutherAI/pythia-${s}`),
  'EleutherAI/gpt-neox-20b',
  ...['3b', '7b', '12b'].map((s) => `databricks/dolly-v2-${s}`),
  ...['Base-3B-v1', 'Chat-3B-v1', 'Instruct-3B-v1', '7B-Base', '7B-Chat', '7B-Instruct'].map((s) => `togethercomputer/RedPajama-INCITE-${s}`),
  'stabilityai/stablecode-completion-alpha-3b',
  'togethercomputer/GPT-NeoXT-Chat-Base-20B',
  'stabilityai/stablelm-tuned-alpha-3b',
  'stabilityai/stablelm-tuned-alpha-7b',
];

test('the catalogue holds every curated model; the architecture gives each stated parameter count within 10%', () => {
  const models = catalogue();
  assert.deepEqual(models.map((m) => m.repo).sort(), [...REPOS].sort());
  for (const m of models) {
    const computed = computedParameters(m);
    const off = Math.abs(computed / m.parameters - 1);
    assert.ok(off <= 0.1, `${m.repo}: stated ${m.parameters}, computed ${computed} (${(off * 100).toFixed(1)}% off)`);
    if (m.parametersSource === 'computed') assert.equal(m.parameters, computed, m.repo);
    for (const k of ['hiddenSize', 'layers', 'heads', 'vocabSize', 'contextLength', 'downloadBytes'] as const) assert.ok(m[k] > 0, `${m.repo}.${k}`);
    assert.equal(m.hiddenSize % m.heads, 0, `${m.repo}: heads divide the hidden size`);
    const bytes = m.dtype === 'float32' ? 4 : 2;
    assert.ok(Math.abs(m.downloadBytes / (computed * bytes) - 1) < 0.05, `${m.repo}: download size ~ parameters x ${bytes} bytes`);
  }
});

test('listCatalogue: memory per precision, fit against the given free memory, and the Hugging Face cache', () => {
  const hubCache = mkdtempSync(join(tmpdir(), 'neox-hf-'));
  try {
    fakeCachedSnapshot(hubCache, 'EleutherAI/pythia-160m');
    const { models, free } = listCatalogue({ freeBytes: 16 * GB, hubCache });
    assert.equal(free.bytes, 16 * GB);
    const byRepo = new Map(models.map((m) => [m.repo, m]));
    const neox = byRepo.get('EleutherAI/gpt-neox-20b')!;
    assert.deepEqual(neox.fits, { fp32: false, int8: false, int4: false });
    const p12 = byRepo.get('EleutherAI/pythia-12b')!;
    assert.deepEqual(p12.fits, { fp32: false, int8: false, int4: true });
    assert.ok(p12.memoryBytes.fp32 > p12.memoryBytes.int8 && p12.memoryBytes.int8 > p12.memoryBytes.int4);
    assert.deepEqual(byRepo.get('EleutherAI/pythia-1.4b')!.fits, { fp32: true, int8: true, int4: true });
    assert.equal(byRepo.get('EleutherAI/pythia-160m')!.cachedDir, join(hubCache, 'models--EleutherAI--pythia-160m', 'snapshots', 'a'.repeat(40)));
    assert.equal(models.filter((m) => m.cachedDir).length, 1);
  } finally {
    rmSync(hubCache, { recursive: true, force: true });
  }
});

/** A snapshot in huggingface_hub's layout with the files a model needs (empty: only their presence counts). */
function fakeCachedSnapshot(hubCache: string, repo: string): void {
  const repoDir = join(hubCache, `models--${repo.replace('/', '--')}`);
  const snap = join(repoDir, 'snapshots', 'a'.repeat(40));
  mkdirSync(snap, { recursive: true });
  mkdirSync(join(repoDir, 'refs'));
  writeFileSync(join(repoDir, 'refs', 'main'), 'a'.repeat(40));
  for (const f of ['config.json', 'tokenizer.json', 'model.safetensors']) writeFileSync(join(snap, f), '{}');
}

function neox(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'engine/cli/neox.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

test('neox models --json lists the catalogue with memory, fit and cache state; the table names the same', async () => {
  const hubCache = mkdtempSync(join(tmpdir(), 'neox-hf-'));
  try {
    fakeCachedSnapshot(hubCache, 'databricks/dolly-v2-3b');
    const r = await neox(['models', '--json', '--free-memory-mb', '16000'], { HF_HUB_CACHE: hubCache });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      free: { bytes: number; source: string };
      contextTokens: number;
      hubCache: string;
      models: { repo: string; parameters: number; downloadBytes: number; memoryBytes: Record<string, number>; fits: Record<string, boolean>; cached: boolean; cachedDir?: string }[];
    };
    assert.deepEqual(out.free, { bytes: 16e9, source: 'option' });
    assert.equal(out.contextTokens, 2048);
    assert.equal(out.hubCache, hubCache);
    assert.deepEqual(out.models.map((m) => m.repo).sort(), [...REPOS].sort());
    for (const m of out.models) {
      assert.deepEqual(Object.keys(m.memoryBytes), ['fp32', 'int8', 'int4'], m.repo);
      for (const q of ['fp32', 'int8', 'int4']) assert.equal(m.fits[q], fitsIn(m.memoryBytes[q]!, 16e9), `${m.repo} ${q}`);
      assert.equal(m.cached, m.repo === 'databricks/dolly-v2-3b', m.repo);
    }
    assert.ok(existsSync(out.models.find((m) => m.cached)!.cachedDir!));

    const text = await neox(['models', '--free-memory-mb', '16000'], { HF_HUB_CACHE: hubCache });
    assert.equal(text.code, 0, text.stderr);
    const line = (repo: string) => text.stdout.split('\n').find((l) => l.startsWith(repo + ' ')) ?? '';
    assert.match(line('EleutherAI/gpt-neox-20b'), /20\.6B\s+41\.1 GB\s+95\.7 GB\s+29\.1 GB\s+19\.3 GB\s+none$/);
    assert.match(line('databricks/dolly-v2-3b'), /fp32 int8 int4\s+yes$/);
    assert.match(text.stdout, /Memory available: 16\.0 GB \(--free-memory-mb\)/);
  } finally {
    rmSync(hubCache, { recursive: true, force: true });
  }
});
