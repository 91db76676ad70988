// Broken checkpoints give one clear NeoxError naming the file, field or tensor, and a failed
// conversion leaves nothing in the model cache. The broken checkpoints are built here from the
// fixture models (copied, truncated, edited).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, copyFileSync, cpSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { loadRunner } from '../../engine/local/load';
import { NeoxError } from '../../engine/types';
import { MODEL_DIR, tempDir, VARIANTS_DIR } from './model-helpers';

const root = tempDir('errors');
const cacheDir = join(root, 'cache');
after(() => rmSync(root, { recursive: true, force: true }));

const BF16 = join(VARIANTS_DIR, 'neox-seq-fullrot-gelufast-bf16');
const F32 = join(VARIANTS_DIR, 'neox-tied-rot50-v5config-f32');

function copyModel(from: string, name: string): string {
  const dir = join(root, name);
  cpSync(from, dir, { recursive: true });
  return dir;
}

function readHeader(file: string): { len: number; header: Record<string, { dtype: string; shape: number[]; data_offsets: number[] }> } {
  const buf = readFileSync(file);
  const len = Number(buf.readBigUInt64LE(0));
  return { len, header: JSON.parse(buf.subarray(8, 8 + len).toString('utf8')) };
}

/** loadRunner must reject with a one-line NeoxError matching every pattern. */
async function expectError(modelDir: string, ...patterns: RegExp[]): Promise<string> {
  let caught: unknown;
  try {
    const r = await loadRunner({ modelDir, quant: 'fp32', cacheDir, threads: 1 });
    await r.dispose();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof NeoxError, `expected a NeoxError, got ${caught}`);
  const msg = (caught as NeoxError).message;
  assert.ok(!msg.includes('\n'), `one line: ${msg}`);
  if (process.env.SHOW_ERRORS) console.log("MSG:", msg);
  for (const p of patterns) assert.match(msg, p);
  return msg;
}

/** The model cache holds no model folder and no temporary build folder. */
function assertCacheEmpty() {
  const left = (() => {
    try {
      return readdirSync(cacheDir);
    } catch {
      return [];
    }
  })();
  assert.deepEqual(left, [], `left in the cache: ${left}`);
}

test('a folder without config.json', async () => {
  const dir = join(root, 'empty');
  mkdirSync(dir);
  await expectError(dir, /config\.json/, /empty/);
  await expectError(join(root, 'does-not-exist'), /does-not-exist/, /does not exist/);
});

test('an unsupported architecture names config.json and the field', async () => {
  const dir = copyModel(BF16, 'llama');
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, architectures: ['LlamaForCausalLM'], model_type: 'llama' }));
  await expectError(dir, /config\.json/, /architectures/, /LlamaForCausalLM/);
});

test('an unsupported activation and a non-JSON config.json', async () => {
  const dir = copyModel(BF16, 'relu');
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, hidden_act: 'relu' }));
  await expectError(dir, /config\.json/, /hidden_act/, /relu/);
  writeFileSync(join(dir, 'config.json'), '{"architectures": ');
  await expectError(dir, /config\.json/, /not valid JSON/);
});

test('a truncated safetensors file names the file and the first tensor past the end', async () => {
  const dir = copyModel(BF16, 'truncated');
  const file = join(dir, 'model.safetensors');
  truncateSync(file, Math.floor(statSync(file).size * 0.6));
  await expectError(dir, /model\.safetensors/, /truncated or corrupt/, /tensor gpt_neox\.\S+/);
  truncateSync(file, 100);
  await expectError(dir, /model\.safetensors/, /header length/);
  truncateSync(file, 3);
  await expectError(dir, /model\.safetensors/, /too short/);
  assertCacheEmpty();
});

test('a missing shard names the shard and the index', async () => {
  const dir = join(root, 'missing-shard');
  mkdirSync(dir);
  for (const f of readdirSync(MODEL_DIR)) if (!f.startsWith('model-00003')) copyFileSync(join(MODEL_DIR, f), join(dir, f));
  await expectError(dir, /model-00003-of-00003\.safetensors/, /model\.safetensors\.index\.json/);
  assertCacheEmpty();
});

test('a tensor of the wrong shape names the file and tensor, and the failed build leaves no trace', async () => {
  const dir = copyModel(BF16, 'wrong-shape');
  const file = join(dir, 'model.safetensors');
  const { header } = readHeader(file);
  const name = 'gpt_neox.layers.1.mlp.dense_h_to_4h.weight';
  assert.deepEqual(header[name].shape, [256, 64]);
  // Same byte count, transposed shape; the header keeps its length so offsets stay valid.
  const raw = readFileSync(file);
  const text = raw.toString('latin1');
  const shapeAt = text.indexOf('[256,64]', text.indexOf(`"${name}"`));
  assert.ok(shapeAt > 0 && shapeAt < text.indexOf('}', text.indexOf(`"${name}"`)));
  raw.write('[64,256]', shapeAt, 'latin1');
  writeFileSync(file, raw);
  const edited = readHeader(file).header[name].shape;
  assert.deepEqual(edited, [64, 256]);
  // Layer 0 is already converted when layer 1's tensor is read: the temporary build must go.
  await expectError(dir, /model\.safetensors/, new RegExp(`tensor ${name.replace(/\./g, '\\.')}`), /shape \[64,256\]/, /expected \[256,64\]/);
  assertCacheEmpty();
  // Repaired checkpoint: the next run builds cleanly.
  copyFileSync(join(BF16, 'model.safetensors'), file);
  const r = await loadRunner({ modelDir: dir, quant: 'fp32', cacheDir, threads: 1 });
  const [logits] = await r.forward([[1, 2, 3]]);
  assert.equal(logits.length, 1024);
  await r.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
});

test('corrupt tensor values (NaN) name the tensor; an unsupported dtype names it too', async () => {
  const dir = copyModel(F32, 'nan');
  const file = join(dir, 'model.safetensors');
  const { len, header } = readHeader(file);
  const name = 'gpt_neox.layers.1.attention.dense.weight';
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4, 8 + len + header[name].data_offsets[0] + 40);
  closeSync(fd);
  await expectError(dir, /model\.safetensors/, new RegExp(name.replace(/\./g, '\\.')), /non-finite/);
  assertCacheEmpty();

  const dir2 = copyModel(F32, 'dtype');
  const file2 = join(dir2, 'model.safetensors');
  const buf = readFileSync(file2);
  const text = buf.toString('latin1');
  const at = text.indexOf('"F32"', text.indexOf('"gpt_neox.embed_in.weight"'));
  buf.write('"I32"', at, 'latin1');
  writeFileSync(file2, buf);
  await expectError(dir2, /model\.safetensors/, /gpt_neox\.embed_in\.weight/, /dtype I32/);
});

test('a missing tensor names the tensor', async () => {
  const dir = copyModel(BF16, 'no-embed-out');
  const file = join(dir, 'model.safetensors');
  const buf = readFileSync(file);
  const text = buf.toString('latin1');
  // Renaming keeps the header length: embed_out.weight -> embed_xxx.weight.
  const at = text.indexOf('"embed_out.weight"');
  assert.ok(at > 0);
  buf.write('"embed_xxx.weight"', at, 'latin1');
  writeFileSync(file, buf);
  await expectError(dir, /embed_out\.weight/, /missing/);
  assertCacheEmpty();
});
