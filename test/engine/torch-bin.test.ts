/**
 * PyTorch checkpoints (torch.save's zip format, engine/local/torch-bin.ts): the bf16 variant as two
 * shards with an index (test/fixtures/torch-bin/, written by another tool than the test's writer) and
 * the default model as one fp16 file with two tensors sharing a storage (written here from its
 * safetensors twin by test/fixtures/torch-bin/torch-save.ts; 46 MB is too large for the repository)
 * load to exactly the twin's weights, build the same ONNX model, and give the same perplexity and
 * generated ids through the CLI. Hostile pickles, truncated archives and compressed records are refused
 * with errors naming the file, before anything is run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, openSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointFiles, checkpointFormat, openCheckpoint } from '../../engine/local/checkpoint';
import { ensureModel, modelCacheDir } from '../../engine/local/model-cache';
import { loadPickle, PyGlobal, type PickleHooks } from '../../engine/local/pickle';
import { SafetensorsCheckpoint } from '../../engine/local/safetensors';
import { TorchBinCheckpoint } from '../../engine/local/torch-bin';
import { readZipDirectory } from '../../engine/local/zip';
import { contiguous, KIND_OF, Pickler, readSafetensorsRaw, safetensorsToTorchBin, stateDictPickle, torchSave, zipBytes, type SavedStorage } from '../fixtures/torch-bin/torch-save';
import { MODEL_DIR, tempDir, VARIANTS_DIR } from './model-helpers';

const BF16_BIN = 'test/fixtures/torch-bin/neox-seq-fullrot-gelufast-bf16';
const BF16_ST = join(VARIANTS_DIR, 'neox-seq-fullrot-gelufast-bf16');
const SHARED_23M = '../shared/fixtures/torch-bin/neox-code-23m';
const SHARED = ['gpt_neox.layers.0.input_layernorm.weight', 'gpt_neox.layers.0.input_layernorm.bias'];

const work = tempDir('torch-bin');
const cacheDir = join(work, 'cache');
test.after(() => rmSync(work, { recursive: true, force: true }));

/** The default model as pytorch_model.bin (+ config and tokenizer), written once. */
let bin23m: string | undefined;
function default23mBin(): string {
  if (bin23m) return bin23m;
  const dir = join(work, 'neox-code-23m-bin');
  mkdirSync(dir);
  safetensorsToTorchBin(MODEL_DIR, dir, SHARED);
  for (const f of ['config.json', 'tokenizer.json']) copyFileSync(join(MODEL_DIR, f), join(dir, f));
  return (bin23m = dir);
}

function copyDir(from: string, tag: string): string {
  const dir = join(work, tag);
  mkdirSync(dir);
  for (const f of readdirSync(from)) copyFileSync(join(from, f), join(dir, f));
  return dir;
}

/** Every tensor of the twin, read through both readers, is bit-identical; the names are the same. */
function assertSameWeights(binDir: string, stDir: string) {
  const bin = new TorchBinCheckpoint(binDir);
  const st = new SafetensorsCheckpoint(stDir);
  try {
    const raw = readSafetensorsRaw(stDir);
    assert.deepEqual(bin.names().sort(), [...raw.keys()].sort());
    for (const [name, t] of raw) {
      const a = bin.tensor(name, t.shape);
      const b = st.tensor(name, t.shape);
      assert.equal(a.length, b.length, name);
      assert.ok(Buffer.from(a.buffer).equals(Buffer.from(b.buffer)), `${name}: values differ`);
    }
    return raw.size;
  } finally {
    bin.close();
    st.close();
  }
}

function expectThrows(fn: () => unknown, ...patterns: RegExp[]): string {
  try {
    fn();
  } catch (e) {
    const msg = (e as Error).message;
    for (const p of patterns) assert.match(msg, p);
    return msg;
  }
  assert.fail(`expected an error matching ${patterns.join(', ')}`);
}

test('bf16 variant (two shards + index, BFloat16 and Float storages) loads to exactly its safetensors twin', () => {
  const kinds = readdirSync(BF16_BIN)
    .filter((f) => f.endsWith('.bin'))
    .map((f) => readFileSync(join(BF16_BIN, f)).toString('latin1').match(/torch\n(\w+Storage)/)![1]);
  assert.deepEqual(kinds, ['BFloat16Storage', 'FloatStorage']);
  assert.equal(assertSameWeights(BF16_BIN, BF16_ST), 28);
});

test('default model as one fp16 pytorch_model.bin with a shared storage loads to exactly its safetensors twin', () => {
  const dir = default23mBin();
  // The two layer-0 norm tensors are views of one storage at offsets 0 and 192.
  const fd = openSync(join(dir, 'pytorch_model.bin'), 'r');
  const records = readZipDirectory(join(dir, 'pytorch_model.bin'), fd);
  closeSync(fd);
  assert.equal([...records.keys()].filter((n) => n.startsWith('pytorch_model/data/')).length, 99);
  assert.equal(records.get('pytorch_model/data/0')?.size, 384 * 2);
  assert.equal(assertSameWeights(dir, MODEL_DIR), 100);
  // The fixture in ../shared (written by another tool), where present, reads the same.
  if (existsSync(join(SHARED_23M, 'pytorch_model.bin'))) assertSameWeights(SHARED_23M, MODEL_DIR);
});

test('detection: safetensors when present, else the .bin files; the cache key follows the .bin files', () => {
  assert.equal(checkpointFormat(BF16_BIN), 'torch-bin');
  assert.deepEqual(
    checkpointFiles(BF16_BIN).map((f) => f.split('/').pop()),
    ['pytorch_model.bin.index.json', 'pytorch_model-00001-of-00002.bin', 'pytorch_model-00002-of-00002.bin'],
  );
  const both = copyDir(BF16_BIN, 'both');
  copyFileSync(join(BF16_ST, 'model.safetensors'), join(both, 'model.safetensors'));
  assert.equal(checkpointFormat(both), 'safetensors');
  assert.ok(openCheckpoint(both) instanceof SafetensorsCheckpoint);

  const dir = copyDir(BF16_BIN, 'cache-key');
  const before = modelCacheDir({ modelDir: dir, quant: 'fp32', cacheDir });
  const shard = join(dir, 'pytorch_model-00002-of-00002.bin');
  utimesSync(shard, new Date(), new Date(statSync(shard).mtimeMs + 5000));
  assert.notEqual(modelCacheDir({ modelDir: dir, quant: 'fp32', cacheDir }), before, 'a changed shard is a new build');

  const none = join(work, 'no-weights');
  mkdirSync(none);
  copyFileSync(join(BF16_BIN, 'config.json'), join(none, 'config.json'));
  expectThrows(() => checkpointFiles(none), /no-weights/, /pytorch_model\.bin/, /model\.safetensors/);
  // A missing shard names the shard and the index.
  rmSync(shard);
  expectThrows(() => checkpointFiles(dir), /pytorch_model-00002-of-00002\.bin/, /pytorch_model\.bin\.index\.json/);
});

test('the bf16 variant builds the same ONNX model from .bin as from safetensors (fp32, int8)', () => {
  for (const quant of ['fp32', 'int8'] as const) {
    const a = ensureModel({ modelDir: BF16_BIN, quant, cacheDir });
    const b = ensureModel({ modelDir: BF16_ST, quant, cacheDir });
    assert.notEqual(a.dir, b.dir);
    for (const f of ['model.onnx', 'model.data']) {
      assert.ok(readFileSync(join(a.dir, f)).equals(readFileSync(join(b.dir, f))), `${quant} ${f} differs`);
    }
  }
});

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

test('neox eval --quant fp32 and neox generate give the same perplexity and ids from the .bin as from safetensors', async () => {
  const dir = default23mBin();
  const data = join(work, 'eval.jsonl');
  writeFileSync(data, readFileSync('test/fixtures/code-eval.jsonl', 'utf8').split('\n').slice(0, 4).join('\n') + '\n');
  const ref = JSON.parse(readFileSync('test/fixtures/neox-code-23m-reference.json', 'utf8')) as { greedy: { prompt: string }[] };
  const prompts = join(work, 'prompts.jsonl');
  writeFileSync(prompts, ref.greedy.slice(0, 3).map((g) => JSON.stringify({ prompt: g.prompt, max_tokens: 16 })).join('\n') + '\n');
  const run = async (model: string) => {
    const common = ['--model', model, '--quant', 'fp32', '--cache-dir', cacheDir];
    const e = await neox(['eval', ...common, '--data', data, '--max-tokens', '256', '--json']);
    assert.equal(e.code, 0, e.stderr);
    const g = await neox(['generate', ...common, '--input', prompts, '--json']);
    assert.equal(g.code, 0, g.stderr);
    return { eval: JSON.parse(e.stdout), ids: g.stdout.trim().split('\n').map((l) => JSON.parse(l).ids as number[]) };
  };
  const bin = await run(dir);
  const st = await run(MODEL_DIR);
  assert.equal(bin.eval.tokens, st.eval.tokens);
  assert.equal(bin.eval.ppl, st.eval.ppl);
  assert.deepEqual(bin.eval.per_file, st.eval.per_file);
  assert.equal(bin.ids.length, 3);
  assert.deepEqual(bin.ids, st.ids);
  console.log(`torch-bin: ppl ${bin.eval.ppl} over ${bin.eval.tokens} tokens, ids ${JSON.stringify(bin.ids[0])}`);
});

test('zip64 archives (as torch.save writes them past 4 GB) read the same', () => {
  const dir = copyDir(BF16_BIN, 'zip64');
  const shard = join(dir, 'pytorch_model-00002-of-00002.bin');
  const raw = readSafetensorsRaw(BF16_ST);
  const names = Object.entries(JSON.parse(readFileSync(join(dir, 'pytorch_model.bin.index.json'), 'utf8')).weight_map as Record<string, string>)
    .filter(([, f]) => f === 'pytorch_model-00002-of-00002.bin')
    .map(([n]) => n);
  const storages = new Map<string, SavedStorage>();
  const tensors = names.map((name, i) => {
    const t = raw.get(name)!;
    storages.set(String(i), { kind: KIND_OF[t.dtype], data: t.data });
    return { name, storage: String(i), offset: 0, shape: t.shape };
  });
  torchSave(shard, tensors, storages, 'archive', undefined, true);
  const fd = openSync(shard, 'r');
  assert.equal(readFileSync(shard).readUInt32LE(statSync(shard).size - 22 - 20), 0x07064b50, 'zip64 locator written');
  assert.equal(readZipDirectory(shard, fd).size, names.length + 4);
  closeSync(fd);
  assertSameWeights(dir, BF16_ST);
});

// --- hostile and damaged files ------------------------------------------------------------------

/** A pickle that calls `module.name('echo pwned')` as its first act. */
function callingPickle(module: string, name: string, protocol4 = false): Buffer {
  const p = new Pickler();
  if (protocol4) {
    // SHORT_BINUNICODE module, SHORT_BINUNICODE name, STACK_GLOBAL
    for (const s of [module, name]) p.raw(0x8c, Buffer.byteLength(s), ...Buffer.from(s));
    p.raw(0x93);
  } else p.global(module, name);
  return p.str('echo pwned').raw(0x85, 0x52).bytes();
}

/** A good state dict whose pickle names `module.name` at its very end, after every tensor. */
function stateDictThen(module: string, name: string): Buffer {
  const storages = new Map<string, SavedStorage>([['0', { kind: 'FloatStorage', data: new Uint8Array(16) }]]);
  const good = stateDictPickle([{ name: 'w', storage: '0', offset: 0, shape: [4] }], storages);
  // Drop BUILD+STOP, then: POP, GLOBAL module.name, STOP.
  return Buffer.concat([good.subarray(0, -1), Buffer.from([0x30, 0x63]), Buffer.from(`${module}\n${name}\n`, 'latin1'), Buffer.from([0x2e])]);
}

function recordingHooks(): PickleHooks & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    allowGlobal: (m, n) => ['collections.OrderedDict', 'torch._utils._rebuild_tensor_v2', 'torch.FloatStorage'].includes(`${m}.${n}`),
    call: (fn: PyGlobal) => (calls.push(`call ${fn.qualified}`), new Map()),
    build: () => void calls.push('build'),
    persistentLoad: () => (calls.push('persistent_load'), { key: '0' }),
  };
}

test('a .bin whose pickle names os.system, posix.system or builtins.eval is refused before anything runs', async () => {
  for (const [module, name, p4] of [
    ['os', 'system', false],
    ['posix', 'system', false],
    ['builtins', 'eval', false],
    ['builtins', 'eval', true],
  ] as const) {
    const dir = copyDir(BF16_BIN, `evil-${module}-${name}-${p4 ? 'p4' : 'p2'}`);
    const file = join(dir, 'pytorch_model-00002-of-00002.bin');
    torchSave(file, [], new Map(), 'archive', callingPickle(module, name, p4));
    expectThrows(() => new TorchBinCheckpoint(dir), new RegExp(file.replace(/[.]/g, '\\.')), new RegExp(`global ${module}\\.${name}\\b`), /refused/);
  }
  // Named at the end of an otherwise good state dict: refused before the first opcode runs.
  const hooks = recordingHooks();
  const evil = stateDictThen('os', 'system');
  expectThrows(() => loadPickle(evil, 'x.bin', hooks), /x\.bin/, /global os\.system/, /before anything was run/);
  assert.deepEqual(hooks.calls, [], 'no hook ran');
  // Other opcodes that build arbitrary objects are refused the same way.
  expectThrows(() => loadPickle(Buffer.from([0x80, 2, 0x29, 0x81, 0x2e]), 'y.bin', recordingHooks()), /y\.bin/, /NEWOBJ/, /not allowed/);

  // Through the CLI: one line naming the file and the global, and no build in the cache.
  const dir = join(work, 'evil-cli');
  mkdirSync(dir);
  copyFileSync(join(BF16_BIN, 'config.json'), join(dir, 'config.json'));
  copyFileSync(join(MODEL_DIR, 'tokenizer.json'), join(dir, 'tokenizer.json'));
  writeFileSync(join(dir, 'pytorch_model.bin'), zipBytes([{ name: 'archive/data.pkl', data: callingPickle('os', 'system') }]));
  const cliCache = join(work, 'evil-cache');
  const r = await neox(['generate', '--model', dir, '--quant', 'fp32', '--cache-dir', cliCache, '--max-tokens', '2', 'x']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /pytorch_model\.bin/);
  assert.match(r.stderr, /global os\.system/);
  assert.ok(!existsSync(cliCache) || readdirSync(cliCache).every((f) => !f.startsWith('evil-cli')), 'no build left behind');
});

test('a truncated archive, a compressed record, a non-contiguous tensor and the legacy format give clear errors naming the file', () => {
  const dir = copyDir(BF16_BIN, 'damaged');
  const shard = join(dir, 'pytorch_model-00001-of-00002.bin');
  const full = readFileSync(shard);
  truncateSync(shard, Math.floor(full.length * 0.6));
  expectThrows(() => new TorchBinCheckpoint(dir), /pytorch_model-00001-of-00002\.bin/, /truncated or corrupt/);
  truncateSync(shard, 10);
  expectThrows(() => new TorchBinCheckpoint(dir), /pytorch_model-00001-of-00002\.bin/, /truncated or corrupt/);

  // A record deflated (zip method 8).
  const storages = new Map<string, SavedStorage>([['0', { kind: 'FloatStorage', data: new Uint8Array(64 * 4) }]]);
  const pkl = stateDictPickle([{ name: 'gpt_neox.final_layer_norm.weight', storage: '0', offset: 0, shape: [64] }], storages);
  writeFileSync(shard, zipBytes([{ name: 'archive/data.pkl', data: pkl }, { name: 'archive/data/0', data: new Uint8Array(256), deflate: true }]));
  expectThrows(() => new TorchBinCheckpoint(dir), /pytorch_model-00001-of-00002\.bin/, /record archive\/data\/0 is compressed/, /deflate/);

  // A transposed view (stride [1, 64]) of a [64, 64] storage.
  const tstore = new Map<string, SavedStorage>([['0', { kind: 'FloatStorage', data: new Uint8Array(64 * 64 * 4) }]]);
  torchSave(shard, [{ name: 'gpt_neox.layers.0.attention.dense.weight', storage: '0', offset: 0, shape: [64, 64], stride: [1, 64] }], tstore);
  expectThrows(() => new TorchBinCheckpoint(dir), /pytorch_model-00001-of-00002\.bin/, /attention\.dense\.weight is not contiguous/, /stride \[1,64\]/);
  assert.deepEqual(contiguous([64, 64]), [64, 1]);

  // A view running past its storage.
  torchSave(shard, [{ name: 'gpt_neox.final_layer_norm.weight', storage: '0', offset: 64 * 64 - 10, shape: [64] }], tstore);
  expectThrows(() => new TorchBinCheckpoint(dir), /final_layer_norm\.weight/, /runs past its storage/);

  // torch.save before PyTorch 1.6: a bare pickle stream.
  writeFileSync(shard, Buffer.from([0x80, 2, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]));
  expectThrows(() => new TorchBinCheckpoint(dir), /pytorch_model-00001-of-00002\.bin/, /legacy torch\.save format/);
});
