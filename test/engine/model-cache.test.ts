// The built-model cache: second start reuses the build; the key follows the checkpoint files and
// build options; default folder; progress reporting. Also config.json parsing of both forms.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { homedir } from 'node:os';
import { loadRunner } from '../../engine/local/load';
import { defaultCacheDir, modelCacheDir } from '../../engine/local/model-cache';
import { parseConfig, readConfig } from '../../engine/local/config';
import type { LoadProgress } from '../../engine/types';
import { NeoxError } from '../../engine/types';
import { MODEL_DIR, tempDir, VARIANTS_DIR } from './model-helpers';

const root = tempDir('cache');
const cacheDir = join(root, 'cache');
after(() => rmSync(root, { recursive: true, force: true }));

test('first load converts with per-layer progress, second load reuses the cached build', async () => {
  const events: LoadProgress[] = [];
  const r1 = await loadRunner({ modelDir: MODEL_DIR, quant: 'fp32', cacheDir, threads: 1 }, (p) => events.push(p));
  assert.equal(r1.info.summary.builtNow, true);
  await r1.dispose();
  const stages = events.map((e) => e.stage);
  assert.deepEqual([...new Set(stages)], ['read-config', 'convert', 'load', 'ready']);
  const fractions = events.filter((e) => e.stage === 'convert' && e.fraction !== undefined).map((e) => e.fraction!);
  assert.ok(fractions.length >= 10, 'one convert event per layer at least');
  assert.deepEqual(fractions, [...fractions].sort((a, b) => a - b));
  assert.equal(fractions.at(-1), 1);
  assert.ok(events.some((e) => e.message === 'layer 8/8'));

  const again: LoadProgress[] = [];
  const r2 = await loadRunner({ modelDir: MODEL_DIR, quant: 'fp32', cacheDir, threads: 1 }, (p) => again.push(p));
  assert.equal(r2.info.summary.builtNow, false);
  assert.equal(r2.info.onnxPath, r1.info.onnxPath);
  assert.ok(!again.some((e) => e.stage === 'convert'));
  assert.equal(r2.info.vocabSize, 50304);
  assert.equal(r2.info.contextLength, 2048);
  assert.equal(r2.info.eosTokenId, 0);
  assert.equal(r2.info.summary.layers, 8);
  assert.equal(r2.info.summary.parameters, 22876032); // models/neox-code-23m/README.md
  await r2.dispose();
  // Only the finished build is left: no temporary folders.
  assert.deepEqual(readdirSync(cacheDir), [r1.info.onnxPath.split('/').at(-1)]);
  assert.deepEqual(readdirSync(r1.info.onnxPath).sort(), ['build.json', 'model.data', 'model.onnx']);
});

test('the cache key follows file identity (mtime) and build options', () => {
  const dir = join(root, 'copy');
  cpSync(join(VARIANTS_DIR, 'neox-tied-rot50-v5config-f32'), dir, { recursive: true });
  const base = { modelDir: dir, cacheDir };
  const fp32 = modelCacheDir({ ...base, quant: 'fp32' });
  assert.equal(modelCacheDir({ ...base, quant: 'fp32' }), fp32);
  assert.equal(modelCacheDir({ ...base, quant: 'fp32', threads: 1 }), fp32, 'threads are not a build option');
  const keys = new Set([
    fp32,
    modelCacheDir({ ...base, quant: 'int8' }),
    modelCacheDir({ ...base, quant: 'int4' }),
    modelCacheDir({ ...base, quant: 'int4', blockSize: 128 }),
  ]);
  assert.equal(keys.size, 4);
  utimesSync(join(dir, 'model.safetensors'), new Date(), new Date(Date.now() + 5000));
  assert.notEqual(modelCacheDir({ ...base, quant: 'fp32' }), fp32, 'a changed checkpoint gets a new build');
  assert.ok(fp32.startsWith(cacheDir));
});

test('default cache folder: NEOX_CACHE_DIR, then XDG_CACHE_HOME, then ~/.cache', () => {
  const saved = { n: process.env.NEOX_CACHE_DIR, x: process.env.XDG_CACHE_HOME };
  try {
    process.env.NEOX_CACHE_DIR = '/tmp/neox-explicit';
    assert.equal(defaultCacheDir(), '/tmp/neox-explicit');
    delete process.env.NEOX_CACHE_DIR;
    process.env.XDG_CACHE_HOME = '/tmp/xdg';
    assert.equal(defaultCacheDir(), '/tmp/xdg/neox-complete');
    delete process.env.XDG_CACHE_HOME;
    assert.equal(defaultCacheDir(), join(homedir(), '.cache', 'neox-complete'));
  } finally {
    if (saved.n === undefined) delete process.env.NEOX_CACHE_DIR;
    else process.env.NEOX_CACHE_DIR = saved.n;
    if (saved.x === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved.x;
  }
});

test('config.json: classic and transformers-5 forms, activations, tied embeddings', () => {
  const classic = readConfig(MODEL_DIR);
  assert.deepEqual(
    { ...classic },
    {
      hiddenSize: 192, numLayers: 8, numHeads: 6, headSize: 32, intermediateSize: 768, vocabSize: 50304, maxPositions: 2048,
      rotaryDims: 8, rotaryBase: 10000, layerNormEps: 1e-5, parallelResidual: true, activation: 'gelu', tiedEmbeddings: false,
      eosTokenId: 0, bosTokenId: 0,
    },
  );
  const v5 = readConfig(join(VARIANTS_DIR, 'neox-tied-rot50-v5config-f32'));
  assert.equal(v5.rotaryDims, 8); // head 16 x partial_rotary_factor 0.5
  assert.equal(v5.tiedEmbeddings, true);
  const seq = readConfig(join(VARIANTS_DIR, 'neox-seq-fullrot-gelufast-bf16'));
  assert.deepEqual([seq.rotaryDims, seq.parallelResidual, seq.activation], [16, false, 'gelu_fast']);
  // GPT-NeoX-20B's config.json
  const neox20b = parseConfig({
    architectures: ['GPTNeoXForCausalLM'], hidden_size: 6144, num_attention_heads: 64, num_hidden_layers: 44, intermediate_size: 24576,
    vocab_size: 50432, max_position_embeddings: 2048, rotary_pct: 0.25, rotary_emb_base: 10000, hidden_act: 'gelu_fast',
    use_parallel_residual: true, tie_word_embeddings: false, layer_norm_eps: 1e-5,
  });
  assert.deepEqual([neox20b.headSize, neox20b.rotaryDims, neox20b.activation], [96, 24, 'gelu_fast']);
  assert.throws(() => parseConfig({ architectures: ['GPTNeoXForCausalLM'], hidden_size: 10, num_attention_heads: 3, num_hidden_layers: 1, vocab_size: 8 }), (e: Error) => e instanceof NeoxError && /num_attention_heads/.test(e.message));
  assert.throws(() => parseConfig({ architectures: ['GPTNeoXForCausalLM'], num_attention_heads: 2, num_hidden_layers: 1, vocab_size: 8 }), (e: Error) => e instanceof NeoxError && /hidden_size/.test(e.message));
  assert.throws(
    () => parseConfig({ architectures: ['GPTNeoXForCausalLM'], hidden_size: 8, num_attention_heads: 2, num_hidden_layers: 1, vocab_size: 8, rope_parameters: { rope_type: 'yarn', rope_theta: 1 } }),
    (e: Error) => e instanceof NeoxError && /rope_type/.test(e.message),
  );
});

test('bad load options are rejected before starting anything', async () => {
  await assert.rejects(loadRunner({ modelDir: MODEL_DIR, quant: 'fp16' as 'fp32' }), (e: Error) => e instanceof NeoxError && /quant/.test(e.message));
  await assert.rejects(loadRunner({ modelDir: MODEL_DIR, quant: 'fp32', threads: 0 }), (e: Error) => e instanceof NeoxError && /threads/.test(e.message));
});
