// Choosing a LoRA adapter per workspace, through the language server with the local engine and the
// embedded model: neox/listModels offers neoxComplete.adapters (each described from its
// adapter_config.json, or with what is wrong with it) and marks the chosen neoxComplete.adapter; only
// the chosen one reaches the local engine's build (an adapter whose weights file is broken fails the
// load with the engine's error naming that file), and choosing none loads the model as it is.
import { after, before, describe, test as nodeTest } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type Harness } from './lsp-harness';
import type { ListModelsResult } from '../../protocol/index';

const test = (name: string, fn: () => Promise<void>) => nodeTest(name, { timeout: 300_000 }, fn);

/** An adapter folder with a LoRA adapter_config.json; `weights`: the adapter_model.safetensors bytes, or none. */
function adapter(root: string, name: string, weights?: Buffer): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const config = { peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['query_key_value'], bias: 'none', fan_in_fan_out: false };
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(config));
  if (weights) writeFileSync(join(dir, 'adapter_model.safetensors'), weights);
  return dir;
}

describe('LoRA adapter chosen per workspace (local engine, embedded model)', () => {
  let h: Harness;
  let root: string;
  let noWeights: string;
  let badWeights: string;
  const list = () => h.conn.sendRequest<ListModelsResult>('neox/listModels');

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'neox-adapters-'));
    noWeights = adapter(root, 'no-weights');
    // A safetensors header that claims more bytes than the file has.
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(1000n);
    badWeights = adapter(root, 'style-lora', Buffer.concat([len, Buffer.from('{"x"')]));
    h = await startServer({ debounceMs: 0, adapters: [noWeights, badWeights], adapter: '' });
    await h.waitReady(300_000);
  });
  after(async () => {
    await h?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('the picker is offered every listed adapter, described or with its problem; none is chosen, and the model loaded without one', async () => {
    const { adapters } = await list();
    assert.deepEqual(adapters, [
      { path: noWeights, name: 'no-weights', description: `Missing ${join(noWeights, 'adapter_model.safetensors')}`, problem: true, current: false },
      { path: badWeights, name: 'style-lora', description: 'LoRA r=4, lora_alpha 8 on query_key_value', current: false },
    ]);
    assert.equal((await h.conn.sendRequest<{ state: string }>('neox/getStatus')).state, 'ready');
  });

  test('the chosen adapter reaches the engine build (its broken weights file is named); choosing none loads the model as it is', async () => {
    const since = h.statuses.length;
    await h.applySettings({ adapter: badWeights });
    const failed = await h.waitStatus((s) => s.state === 'error', { since });
    assert.ok(failed.message?.includes(join(badWeights, 'adapter_model.safetensors')), `the error names the chosen adapter's file: ${failed.message}`);
    assert.ok(!failed.message?.includes(noWeights), 'and not the other one');
    const { adapters } = await list();
    assert.deepEqual(adapters?.map((a) => a.current), [false, true]);
    await h.applySettings({ adapter: '' });
    await h.waitReady(300_000);
    assert.deepEqual((await list()).adapters?.map((a) => a.current), [false, false]);
  });

  test('no adapters offered and none chosen: the listing has no adapter rows', async () => {
    await h.applySettings({ adapters: [] });
    assert.equal((await list()).adapters, undefined);
  });
});
