// PEFT LoRA adapters (engine/local/lora.ts): adapters are written here (a tiny safetensors writer)
// with known A and B; the merged weights are W + scale * B @ A; an all-zero adapter leaves the
// logits unchanged; `neox eval --adapter` gives the perplexity of a merged checkpoint written here;
// broken adapters fail naming the file and the field or tensor.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, utimesSync, writeFileSync, writeSync, copyFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openCheckpoint } from '../../engine/local/checkpoint';
import { readConfig } from '../../engine/local/config';
import { loadRunner } from '../../engine/local/load';
import { describeAdapter, LoraWeightSource, openAdapter, withAdapters } from '../../engine/local/lora';
import { modelCacheDir } from '../../engine/local/model-cache';
import { NeoxError } from '../../engine/types';
import { BackendManager } from '../../server/backend-factory';
import { resolveSettings } from '../../server/settings';
import { MODEL_DIR, reference, tempDir } from './model-helpers';

const root = tempDir('lora');
const cacheDir = join(root, 'cache');
after(() => rmSync(root, { recursive: true, force: true }));

const config = readConfig(MODEL_DIR);
const D = config.hiddenSize; // 192
const F = config.intermediateSize; // 768
const L = config.numLayers; // 8
const MODULES = { query_key_value: ['attention', 3 * D, D], dense: ['attention', D, D], dense_h_to_4h: ['mlp', F, D], dense_4h_to_h: ['mlp', D, F] } as const;
type Module = keyof typeof MODULES;
const baseName = (layer: number, m: Module) => `gpt_neox.layers.${layer}.${MODULES[m][0]}.${m}.weight`;
const peftName = (layer: number, m: Module, half: 'A' | 'B') => `base_model.model.gpt_neox.layers.${layer}.${MODULES[m][0]}.${m}.lora_${half}.weight`;

interface T {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** Writes F32 tensors as a safetensors file. */
function writeSafetensors(file: string, tensors: T[]): void {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let off = 0;
  for (const t of tensors) {
    assert.equal(t.data.length, t.shape.reduce((a, b) => a * b, 1), t.name);
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + t.data.byteLength] };
    off += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, len);
    writeSync(fd, Buffer.from(json));
    for (const t of tensors) writeSync(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  } finally {
    closeSync(fd);
  }
}

/** Deterministic pseudo-random numbers in [-amp, amp). */
function rand(n: number, seed: number, amp: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32 - 0.5) * 2 * amp;
  }
  return out;
}

interface AdapterSpec {
  r: number;
  alpha: number;
  rslora?: boolean;
  fanInFanOut?: boolean;
  targets: Module[];
  /** Which layers get an update (default: all). */
  layers?: number[];
  /** A and B values: random with this seed and amplitude, or all zero. */
  seed: number;
  amp: number;
  zero?: boolean;
  config?: Record<string, unknown>;
}

/** A PEFT adapter folder; returns its A and B per adapted base tensor. */
function makeAdapter(name: string, spec: AdapterSpec): { dir: string; ab: Map<string, { a: Float32Array; b: Float32Array }> } {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const { r } = spec;
  const tensors: T[] = [];
  const ab = new Map<string, { a: Float32Array; b: Float32Array }>();
  let seed = spec.seed;
  for (const layer of spec.layers ?? [...Array(L).keys()]) {
    for (const m of spec.targets) {
      const [, out, inn] = MODULES[m];
      // PEFT: A [r, in], B [out, r]; with fan_in_fan_out the update is transposed, so A [r, out], B [in, r].
      const [o, i] = spec.fanInFanOut ? [inn, out] : [out, inn];
      const a = spec.zero ? new Float32Array(r * i) : rand(r * i, seed++, spec.amp);
      const b = spec.zero ? new Float32Array(o * r) : rand(o * r, seed++, spec.amp);
      tensors.push({ name: peftName(layer, m, 'A'), shape: [r, i], data: a }, { name: peftName(layer, m, 'B'), shape: [o, r], data: b });
      ab.set(baseName(layer, m), { a, b });
    }
  }
  writeSafetensors(join(dir, 'adapter_model.safetensors'), tensors);
  const cfg = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: 'neox-code-23m',
    r,
    lora_alpha: spec.alpha,
    lora_dropout: 0.05,
    target_modules: spec.targets,
    fan_in_fan_out: !!spec.fanInFanOut,
    use_rslora: !!spec.rslora,
    bias: 'none',
    modules_to_save: null,
    ...spec.config,
  };
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(cfg, null, 2));
  return { dir, ab };
}

/** W + scale * B @ A (or its transpose), in float64. */
function expected(w: Float32Array, [N, K]: number[], a: Float32Array, b: Float32Array, r: number, scale: number, fif: boolean): Float64Array {
  const out = Float64Array.from(w);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < K; j++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += fif ? b[j * r + k] * a[k * N + i] : b[i * r + k] * a[k * K + j];
      out[i * K + j] += scale * s;
    }
  }
  return out;
}

/** Largest difference relative to fp32 rounding of the expected value. */
function assertClose(got: Float32Array, want: Float64Array, what: string): void {
  assert.equal(got.length, want.length, what);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(Math.abs(want[i]), 1e-3));
  assert.ok(worst < 1e-6, `${what}: worst relative difference ${worst}`);
}

const shapeOf = (m: Module) => [MODULES[m][1], MODULES[m][2]];

test('merged weights are W + (lora_alpha / r) B A, alpha / sqrt(r) with use_rslora, transposed with fan_in_fan_out; others untouched', () => {
  const cases: [string, AdapterSpec, number][] = [
    ['plain', { r: 4, alpha: 16, targets: ['query_key_value', 'dense_4h_to_h'], layers: [0, 3], seed: 11, amp: 0.1 }, 16 / 4],
    ['rslora', { r: 9, alpha: 6, rslora: true, targets: ['dense', 'dense_h_to_4h'], layers: [1, 7], seed: 23, amp: 0.1 }, 6 / 3],
    ['fif', { r: 3, alpha: 5, fanInFanOut: true, targets: ['query_key_value', 'dense_h_to_4h', 'dense_4h_to_h', 'dense'], layers: [2], seed: 37, amp: 0.1 }, 5 / 3],
  ];
  for (const [name, spec, scale] of cases) {
    const { dir, ab } = makeAdapter(`unit-${name}`, spec);
    const adapter = openAdapter(dir, config);
    assert.equal(adapter.scale, scale, `${name}: scale`);
    const base = openCheckpoint(MODEL_DIR);
    const merged = withAdapters([dir], config, () => openCheckpoint(MODEL_DIR));
    assert.ok(merged instanceof LoraWeightSource);
    try {
      for (const [tensor, { a, b }] of ab) {
        const m = tensor.split('.').at(-2) as Module;
        const shape = shapeOf(m);
        const want = expected(base.tensor(tensor, shape), shape, a, b, spec.r, scale, !!spec.fanInFanOut);
        assertClose(merged.tensor(tensor, shape), want, `${name}: ${tensor}`);
      }
      // Not adapted: identical.
      for (const t of [[baseName(5, 'query_key_value'), [3 * D, D]], ['gpt_neox.layers.0.attention.query_key_value.bias', [3 * D]], ['embed_out.weight', [config.vocabSize, D]]] as const) {
        assert.deepEqual(merged.tensor(t[0], [...t[1]]), base.tensor(t[0], [...t[1]]), `${name}: ${t[0]} unchanged`);
      }
    } finally {
      base.close();
      merged.close();
    }
  }
});

test('two adapters apply in order (W + d1 + d2), and each adapter, its order and its files are part of the cache key', () => {
  const one = makeAdapter('order-1', { r: 2, alpha: 4, targets: ['dense'], layers: [4], seed: 101, amp: 0.1 });
  const two = makeAdapter('order-2', { r: 5, alpha: 3, targets: ['dense'], layers: [4], seed: 202, amp: 0.1 });
  const base = openCheckpoint(MODEL_DIR);
  const merged = withAdapters([one.dir, two.dir], config, () => openCheckpoint(MODEL_DIR));
  try {
    const t = baseName(4, 'dense');
    const w = base.tensor(t, [D, D]);
    const step1 = expected(w, [D, D], one.ab.get(t)!.a, one.ab.get(t)!.b, 2, 2, false);
    const want = expected(Float32Array.from(step1), [D, D], two.ab.get(t)!.a, two.ab.get(t)!.b, 5, 3 / 5, false);
    assertClose(merged.tensor(t, [D, D]), want, t);
  } finally {
    base.close();
    merged.close();
  }
  const key = (adapters?: string[]) => modelCacheDir({ modelDir: MODEL_DIR, quant: 'fp32', cacheDir, adapters });
  const keys = [key(), key([one.dir]), key([two.dir]), key([one.dir, two.dir]), key([two.dir, one.dir])];
  assert.equal(new Set(keys).size, keys.length, `distinct cache folders: ${keys.join(', ')}`);
  assert.equal(key([]), key(), 'no adapters: the key is the plain one');
  const before = key([one.dir]);
  utimesSync(join(one.dir, 'adapter_model.safetensors'), new Date(), new Date(Date.now() + 5000));
  assert.notEqual(key([one.dir]), before, 'a rewritten adapter file gives a new build');
});

test('an all-zero adapter on every module of every layer leaves every logit unchanged (fp32)', async () => {
  const { dir } = makeAdapter('zero', { r: 2, alpha: 16, targets: ['query_key_value', 'dense', 'dense_h_to_4h', 'dense_4h_to_h'], seed: 1, amp: 0, zero: true });
  const prompts = reference().greedy.slice(0, 3).map((g: { input_ids: number[] }) => g.input_ids);
  const logitsOf = async (adapters?: string[]) => {
    const runner = await loadRunner({ modelDir: MODEL_DIR, quant: 'fp32', cacheDir, threads: 1, adapters });
    try {
      const out: Float32Array[] = [];
      for (const p of prompts) {
        runner.reset(1);
        const [all] = await runner.forward([p], { allLogits: true });
        out.push(all.slice());
      }
      return { out, onnx: runner.info.onnxPath };
    } finally {
      await runner.dispose();
    }
  };
  const plain = await logitsOf();
  const zero = await logitsOf([dir]);
  assert.notEqual(zero.onnx, plain.onnx, 'a separate build');
  prompts.forEach((p: number[], i: number) => {
    assert.equal(zero.out[i].length, p.length * config.vocabSize);
    assert.ok(Buffer.from(zero.out[i].buffer).equals(Buffer.from(plain.out[i].buffer)), `prompt ${i}: logits identical`);
  });
});

function neox(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'engine/cli/neox.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => res({ code: code ?? -1, stdout, stderr }));
  });
}

/** The tensor names and shapes of a safetensors checkpoint folder (from its headers). */
function checkpointTensors(dir: string): { name: string; shape: number[] }[] {
  const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
  const out: { name: string; shape: number[] }[] = [];
  for (const shard of [...new Set(Object.values(index.weight_map))].sort()) {
    const buf = readFileSync(join(dir, shard));
    const header = JSON.parse(buf.subarray(8, 8 + Number(buf.readBigUInt64LE(0))).toString('utf8')) as Record<string, { shape: number[] }>;
    for (const [name, t] of Object.entries(header)) if (name !== '__metadata__') out.push({ name, shape: t.shape });
  }
  return out;
}

test('neox eval --quant fp32 --adapter DIR gives the perplexity of the merged checkpoint (within 0.05%)', async () => {
  const spec: AdapterSpec = { r: 8, alpha: 16, targets: ['query_key_value', 'dense', 'dense_h_to_4h', 'dense_4h_to_h'], seed: 7, amp: 0.06 };
  const { dir, ab } = makeAdapter('eval', spec);
  // The reference: the checkpoint with the adapter folded in (float64 here), written as one F32 file.
  const mergedDir = join(root, 'merged-model');
  mkdirSync(mergedDir);
  for (const f of ['config.json', 'tokenizer.json']) copyFileSync(join(MODEL_DIR, f), join(mergedDir, f));
  const base = openCheckpoint(MODEL_DIR);
  const tensors: T[] = [];
  try {
    for (const { name, shape } of checkpointTensors(MODEL_DIR)) {
      if (!base.has(name)) continue;
      const w = base.tensor(name, shape);
      const lora = ab.get(name);
      tensors.push({ name, shape, data: lora ? Float32Array.from(expected(w, shape, lora.a, lora.b, spec.r, spec.alpha / spec.r, false)) : w });
    }
  } finally {
    base.close();
  }
  assert.equal(tensors.filter((t) => ab.has(t.name)).length, 4 * L);
  writeSafetensors(join(mergedDir, 'model.safetensors'), tensors);

  const data = join(root, 'eval.jsonl');
  writeFileSync(data, readFileSync('test/fixtures/code-eval.jsonl', 'utf8').trim().split('\n').slice(0, 12).join('\n') + '\n');
  const evalPpl = async (...args: string[]) => {
    const r = await neox(['eval', '--quant', 'fp32', '--cache-dir', cacheDir, '--threads', '1', '--data', data, '--max-tokens', '256', '--json', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { ppl: number; tokens: number };
  };
  const withAdapter = await evalPpl('--model', MODEL_DIR, '--adapter', dir);
  const merged = await evalPpl('--model', mergedDir);
  const plain = await evalPpl('--model', MODEL_DIR);
  assert.equal(withAdapter.tokens, merged.tokens);
  const rel = Math.abs(withAdapter.ppl / merged.ppl - 1);
  console.log(`eval: ppl with --adapter ${withAdapter.ppl.toFixed(5)}, merged checkpoint ${merged.ppl.toFixed(5)} (${(rel * 100).toFixed(5)}%), without ${plain.ppl.toFixed(5)}`);
  assert.ok(rel < 0.0005, `ppl ${withAdapter.ppl} vs merged reference ${merged.ppl} (${(rel * 100).toFixed(4)}%)`);
  assert.ok(Math.abs(withAdapter.ppl / plain.ppl - 1) > 0.01, `the adapter changes the perplexity (${withAdapter.ppl} vs ${plain.ppl})`);
});

/** openAdapter must throw a one-line NeoxError matching every pattern. */
function expectError(dir: string, ...patterns: RegExp[]): void {
  let caught: unknown;
  try {
    openAdapter(dir, config);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof NeoxError, `expected a NeoxError, got ${caught}`);
  const msg = (caught as NeoxError).message;
  assert.ok(!msg.includes('\n'), `one line: ${msg}`);
  for (const p of patterns) assert.match(msg, p);
}

const esc = (s: string) => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

test('broken adapters: errors name the adapter file and the field or tensor', async () => {
  const ok: AdapterSpec = { r: 2, alpha: 4, targets: ['query_key_value'], layers: [0], seed: 5, amp: 0.1 };
  const cfgFile = (dir: string) => esc(join(dir, 'adapter_config.json'));
  const stFile = (dir: string) => esc(join(dir, 'adapter_model.safetensors'));

  let a = makeAdapter('err-prefix', { ...ok, config: { peft_type: 'PREFIX_TUNING' } });
  expectError(a.dir, cfgFile(a.dir), /peft_type/, /"PREFIX_TUNING" is not supported/);

  a = makeAdapter('err-llama', { ...ok, config: { target_modules: ['q_proj', 'v_proj'] } });
  expectError(a.dir, cfgFile(a.dir), /target_modules "q_proj" is not a GPT-NeoX linear layer/, /query_key_value, dense, dense_h_to_4h, dense_4h_to_h/);

  a = makeAdapter('err-json', ok);
  writeFileSync(join(a.dir, 'adapter_config.json'), '{"peft_type": "LORA", ');
  expectError(a.dir, cfgFile(a.dir), /not valid JSON/);

  a = makeAdapter('err-dora', { ...ok, config: { use_dora: true } });
  expectError(a.dir, cfgFile(a.dir), /use_dora/);

  // r = 2 in the config, tensors of rank 4.
  a = makeAdapter('err-rank', { ...ok, r: 4, config: { r: 2 } });
  expectError(a.dir, stFile(a.dir), esc(peftName(0, 'query_key_value', 'A')), /shape \[4,192\]/, /expected \[2,192\]/, /r = 2/);

  // lora_B of the wrong size for query_key_value.
  a = makeAdapter('err-shape', ok);
  writeSafetensors(join(a.dir, 'adapter_model.safetensors'), [
    { name: peftName(0, 'query_key_value', 'A'), shape: [2, D], data: new Float32Array(2 * D) },
    { name: peftName(0, 'query_key_value', 'B'), shape: [D, 2], data: new Float32Array(2 * D) },
  ]);
  expectError(a.dir, stFile(a.dir), esc(peftName(0, 'query_key_value', 'B')), /shape \[192,2\]/, /expected \[576,2\]/, /gpt_neox\.layers\.0\.attention\.query_key_value\.weight/);

  // A tensor of a module GPT-NeoX does not have, a layer past the last, a lora_A without its lora_B.
  const bogus = 'base_model.model.gpt_neox.layers.0.attention.q_proj.lora_A.weight';
  writeSafetensors(join(a.dir, 'adapter_model.safetensors'), [{ name: bogus, shape: [2, D], data: new Float32Array(2 * D) }]);
  expectError(a.dir, stFile(a.dir), esc(bogus), /not a LoRA weight/);
  writeSafetensors(join(a.dir, 'adapter_model.safetensors'), [{ name: peftName(8, 'dense', 'A'), shape: [2, D], data: new Float32Array(2 * D) }]);
  expectError(a.dir, stFile(a.dir), esc(peftName(8, 'dense', 'A')), /layer 8, but the model has 8 layers/);
  writeSafetensors(join(a.dir, 'adapter_model.safetensors'), [{ name: peftName(1, 'dense', 'A'), shape: [2, D], data: new Float32Array(2 * D) }]);
  expectError(a.dir, stFile(a.dir), esc(peftName(1, 'dense', 'A')), /no matching lora_B/);
  writeFileSync(join(a.dir, 'adapter_model.safetensors'), Buffer.from([1, 2, 3]));
  expectError(a.dir, stFile(a.dir), /truncated or corrupt/);

  // Missing files and folders.
  rmSync(join(a.dir, 'adapter_model.safetensors'));
  expectError(a.dir, /Missing/, stFile(a.dir));
  rmSync(join(a.dir, 'adapter_config.json'));
  expectError(a.dir, /Missing/, cfgFile(a.dir));
  expectError(join(root, 'no-such-adapter'), esc(join(root, 'no-such-adapter')), /does not exist/);

  // Through the engine (worker thread) and the CLI: the same one-line message.
  const llama = makeAdapter('err-llama2', { ...ok, config: { target_modules: ['q_proj'] } });
  await assert.rejects(loadRunner({ modelDir: MODEL_DIR, quant: 'fp32', cacheDir, threads: 1, adapters: [llama.dir] }), (e: Error) => {
    assert.ok(e instanceof NeoxError);
    assert.match(e.message, cfgFile(llama.dir));
    assert.match(e.message, /"q_proj"/);
    return true;
  });
  const r = await neox(['generate', '--quant', 'fp32', '--cache-dir', cacheDir, '--adapter', llama.dir, '--max-tokens', '2', 'def f']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, cfgFile(llama.dir));
  assert.match(r.stderr, /"q_proj" is not a GPT-NeoX linear layer/);
  const missing = await neox(['eval', '--quant', 'fp32', '--cache-dir', cacheDir, '--adapter', 'no/such/dir', '--data', 'test/fixtures/code-eval.jsonl']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, esc(resolve('no/such/dir')));
});

test('the chosen neoxComplete.adapter reaches the local backend spec; the offered list alone merges nothing (none: no key, so a plain spec is unchanged)', () => {
  const m = new BackendManager({ defaultModelPath: '/models/default' });
  const spec = (raw: Record<string, unknown>) => m.specFor(resolveSettings(raw).settings);
  assert.deepEqual(spec({ adapters: ['/lora/b', '/lora/a'], adapter: '/lora/a' }).adapters, ['/lora/a']);
  assert.equal('adapters' in spec({ adapters: ['/lora/b', '/lora/a'] }), false, 'offered, none chosen');
  assert.equal('adapters' in spec({}), false);
  assert.equal('adapters' in spec({ backend: 'tgi', remoteUrl: 'http://gpu:8080', adapter: '/lora/a' }), false, 'remote backends ignore it');
  assert.ok(m.apply(resolveSettings({}).settings));
  assert.equal(m.apply(resolveSettings({ adapters: ['/lora/a'] }).settings), false, 'offering an adapter changes nothing');
  assert.ok(m.apply(resolveSettings({ adapters: ['/lora/a'], adapter: '/lora/a' }).settings), 'choosing one rebuilds the backend');
  assert.equal(m.apply(resolveSettings({ adapters: ['/lora/a'], adapter: '/lora/a' }).settings), false);
});

test('describeAdapter: a line for the model picker from adapter_config.json, or an error naming the file', () => {
  const { dir } = makeAdapter('described', { r: 4, alpha: 8, targets: ['query_key_value', 'dense'], layers: [0], seed: 3, amp: 0.01 });
  assert.equal(describeAdapter(dir), 'LoRA r=4, lora_alpha 8 on query_key_value, dense');
  const ia3 = makeAdapter('ia3', { r: 4, alpha: 8, targets: ['dense'], layers: [0], seed: 3, amp: 0.01, config: { peft_type: 'IA3' } }).dir;
  assert.throws(() => describeAdapter(ia3), { message: `${join(ia3, 'adapter_config.json')}: peft_type "IA3" is not supported: only LoRA adapters (peft_type "LORA") can be merged` });
  assert.throws(() => describeAdapter(join(root, 'nowhere')), { message: `LoRA adapter folder ${join(root, 'nowhere')} does not exist` });
});
