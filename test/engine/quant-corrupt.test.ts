// A quantized conversion of a checkpoint with a corrupt or truncated tensor fails with one message
// naming the tensor, leaves nothing half-written in the model cache, and the next run (checkpoint
// repaired) rebuilds cleanly.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, openSync, readdirSync, readFileSync, closeSync, readSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRunner } from '../../engine/local/load';
import { NeoxError } from '../../engine/types';
import { MODEL_DIR } from './quant-eval';

const work = mkdtempSync(join(tmpdir(), 'neox-quant-corrupt-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** Shard file and absolute byte range of a tensor in a sharded checkpoint. */
function locate(modelDir: string, name: string): { file: string; start: number; end: number } {
  const index = JSON.parse(readFileSync(join(modelDir, 'model.safetensors.index.json'), 'utf8'));
  const file = join(modelDir, index.weight_map[name]);
  const fd = openSync(file, 'r');
  try {
    const len = Buffer.alloc(8);
    readSync(fd, len, 0, 8, 0);
    const hl = Number(len.readBigUInt64LE(0));
    const hb = Buffer.alloc(hl);
    readSync(fd, hb, 0, hl, 8);
    const [b, e]: [number, number] = JSON.parse(hb.toString())[name].data_offsets;
    return { file, start: 8 + hl + b, end: 8 + hl + e };
  } finally {
    closeSync(fd);
  }
}

/** Everything in the cache folder, including hidden temp folders. */
const cacheEntries = (dir: string) => {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
};

test('int4 conversion: a tensor with corrupt values mid-model fails naming it, no half-written model, then rebuilds', async () => {
  const model = join(work, 'nan-model');
  const cache = join(work, 'cache-nan');
  cpSync(MODEL_DIR, model, { recursive: true });
  const victim = 'gpt_neox.layers.5.mlp.dense_h_to_4h.weight'; // layers 0-4 are already converted when it is read
  const { file, start } = locate(model, victim);
  const original = Buffer.alloc(64);
  const fd = openSync(file, 'r+');
  readSync(fd, original, 0, 64, start + 4096);
  writeSync(fd, Buffer.alloc(64, 0xff), 0, 64, start + 4096); // 0xffff = float16 NaN
  closeSync(fd);

  const progress: string[] = [];
  await assert.rejects(
    loadRunner({ modelDir: model, quant: 'int4', blockSize: 32, cacheDir: cache, threads: 1 }, (p) => progress.push(p.message)),
    (e: Error) => {
      assert.ok(e instanceof NeoxError, `not a NeoxError: ${e}`);
      assert.match(e.message, new RegExp(victim.replace(/\./g, '\\.')));
      assert.ok(!e.message.includes('\n'), 'one line');
      return true;
    },
  );
  assert.ok(progress.some((m) => /layer 5\//.test(m)), `conversion got past layer 4 before failing: ${progress.join(' | ')}`);
  assert.deepEqual(cacheEntries(cache), [], 'nothing left in the cache after the failed conversion');

  // Repair the file: the next run converts from scratch and works.
  const fd2 = openSync(file, 'r+');
  writeSync(fd2, original, 0, 64, start + 4096);
  closeSync(fd2);
  const runner = await loadRunner({ modelDir: model, quant: 'int4', blockSize: 32, cacheDir: cache, threads: 1 });
  try {
    const [logits] = await runner.forward([[510, 1231, 9, 1028]]);
    assert.equal(logits.length, runner.info.vocabSize);
    assert.ok(logits.every(Number.isFinite));
  } finally {
    await runner.dispose();
  }
  const entries = cacheEntries(cache);
  assert.equal(entries.length, 1, `one built model: ${entries}`);
  assert.ok(!entries[0].startsWith('.tmp'));
  assert.ok(statSync(join(cache, entries[0], 'model.data')).size > 0);
});

test('int8 conversion: a truncated shard fails naming the tensor past its end, leaving the cache empty', async () => {
  const model = join(work, 'trunc-model');
  const cache = join(work, 'cache-trunc');
  cpSync(MODEL_DIR, model, { recursive: true });
  const { file, end } = locate(model, 'embed_out.weight');
  truncateSync(file, end - 1000);
  await assert.rejects(loadRunner({ modelDir: model, quant: 'int8', cacheDir: cache, threads: 1 }), (e: Error) => {
    assert.ok(e instanceof NeoxError);
    assert.match(e.message, /embed_out\.weight/);
    assert.match(e.message, /truncated|beyond the end/);
    return true;
  });
  assert.deepEqual(cacheEntries(cache), []);
});
