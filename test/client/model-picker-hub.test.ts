/**
 * The model picker's "Download from Hugging Face" rows (client/commands/model-row.ts): the detail line
 * with memory and fit, and what choosing a row does; fed by the server's catalogue rows
 * (server/features/models.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HubModelListing, ListedModel } from '../../protocol/index';
import { defaultSettings } from '../../protocol/index';
import { DOWNLOAD_COMMAND, hubPickAction, hubPickRow, modelPickRow } from '../../client/commands/model-row';
import { catalogueModels } from '../../server/features/models';

const GB = 1e9;
function listing(over: Partial<HubModelListing> = {}): ListedModel & { hub: HubModelListing } {
  const hub: HubModelListing = {
    repo: 'EleutherAI/pythia-1.4b',
    parameters: 1_414_647_808,
    downloadBytes: 2.83 * GB,
    memoryBytes: { fp32: 7.2 * GB, int8: 3.0 * GB, int4: 0.9 * GB },
    fits: { fp32: true, int8: true, int4: true },
    freeBytes: 16 * GB,
    quantization: 'int4',
    ...over,
  };
  return { id: hub.repo, backend: 'local', name: 'Pythia 1.4B', description: hub.repo, hub };
}

test('a row that fits: parameters, the selected precision, its memory and "fits"', () => {
  const row = hubPickRow(listing());
  assert.equal(row.detail, '1.4B · int4 ≈ 0.9 GB · fits');
  assert.equal(row.label, '$(cloud-download) Pythia 1.4B');
  assert.equal(row.description, 'EleutherAI/pythia-1.4b · 2.8 GB download');
  assert.deepEqual(modelPickRow(listing()), row, 'modelPickRow hands catalogue rows to hubPickRow');
});

test('a row that does not fit names the need and the free memory, and a precision that fits or none', () => {
  const big = listing({
    repo: 'EleutherAI/gpt-neox-20b',
    parameters: 20_554_567_680,
    memoryBytes: { fp32: 95.7 * GB, int8: 24 * GB, int4: 15 * GB },
    fits: { fp32: false, int8: false, int4: true },
    quantization: 'int8',
  });
  assert.equal(hubPickRow(big).detail, '20.6B · int8 needs 24 GB; 16 GB free · int4 fits (15 GB)');
  const none = listing({ ...big.hub, fits: { fp32: false, int8: false, int4: false }, freeBytes: 2 * GB });
  assert.equal(hubPickRow(none).detail, '20.6B · int8 needs 24 GB; 2.0 GB free · too big for this machine');
});

test('a downloaded row says so, and the current one is checked', () => {
  const row = hubPickRow({ ...listing({ cachedDir: '/hf/models--EleutherAI--pythia-1.4b/snapshots/abc' }), current: true });
  assert.equal(row.label, '$(check) Pythia 1.4B');
  assert.equal(row.description, 'EleutherAI/pythia-1.4b · downloaded · current');
});

test('choosing a row: the cached snapshot is used (switching to a precision that fits), else download or `neox pull`', () => {
  const dir = '/hf/models--EleutherAI--pythia-1.4b/snapshots/abc';
  assert.deepEqual(hubPickAction(listing({ cachedDir: dir }), []), { kind: 'use', modelPath: dir });
  const tight = listing({ cachedDir: dir, quantization: 'fp32', fits: { fp32: false, int8: true, int4: true } });
  assert.deepEqual(hubPickAction(tight, []), { kind: 'use', modelPath: dir, quantization: 'int8' });
  const none = hubPickAction(listing({ cachedDir: dir, fits: { fp32: false, int8: false, int4: false } }), []);
  assert.equal(none.kind, 'use');
  assert.match((none as { warning?: string }).warning ?? '', /needs about 0\.9 GB even at int4; 16 GB is free/);

  assert.deepEqual(hubPickAction(listing(), ['workbench.action.files.save', DOWNLOAD_COMMAND]), { kind: 'download', command: DOWNLOAD_COMMAND, repo: 'EleutherAI/pythia-1.4b' });
  const pull = hubPickAction(listing(), ['workbench.action.files.save']);
  assert.equal(pull.kind, 'pull');
  assert.equal((pull as { shellCommand: string }).shellCommand, 'neox pull EleutherAI/pythia-1.4b');
  assert.match((pull as { message: string }).message, /not downloaded yet \(2\.8 GB\)\. Run `neox pull EleutherAI\/pythia-1\.4b` in a terminal/);
});

test("the server's catalogue rows carry memory, fit, the selected precision and the cached snapshot", () => {
  const hubCache = mkdtempSync(join(tmpdir(), 'neox-hf-'));
  try {
    const snap = join(hubCache, 'models--EleutherAI--pythia-410m', 'snapshots', 'b'.repeat(40));
    mkdirSync(snap, { recursive: true });
    mkdirSync(join(hubCache, 'models--EleutherAI--pythia-410m', 'refs'));
    writeFileSync(join(hubCache, 'models--EleutherAI--pythia-410m', 'refs', 'main'), 'b'.repeat(40));
    for (const f of ['config.json', 'tokenizer.json', 'model.safetensors']) writeFileSync(join(snap, f), '{}');
    const settings = { ...defaultSettings(), quantization: 'int8' as const, modelPath: snap };
    const rows = catalogueModels(settings, { freeBytes: 16 * GB, hubCache });
    assert.equal(rows.length, 22);
    const p410 = rows.find((r) => r.id === 'EleutherAI/pythia-410m')!;
    assert.equal(p410.hub?.cachedDir, snap);
    assert.equal(p410.current, true, 'modelPath is its snapshot');
    assert.equal(rows.filter((r) => r.current).length, 1);
    const neox = rows.find((r) => r.id === 'EleutherAI/gpt-neox-20b')!;
    assert.equal(neox.hub?.quantization, 'int8');
    assert.equal(neox.hub?.freeBytes, 16 * GB);
    assert.match(modelPickRow(neox).detail ?? '', /^20\.6B · int8 needs 29 GB; 16 GB free · too big for this machine$/);
    assert.match(modelPickRow(rows.find((r) => r.id === 'EleutherAI/pythia-12b')!).detail ?? '', /^11\.8B · int8 needs 17 GB; 16 GB free · int4 fits \(12 GB\)$/);
  } finally {
    rmSync(hubCache, { recursive: true, force: true });
  }
});
