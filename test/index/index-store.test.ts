// The workspace index in-process with a deterministic embedder: rebuilt when its folder is missing,
// damaged or made by another model, kept otherwise; the loop waits while the user's generations run
// and while paused, and a rebuild request starts over; identifier terms find names LanceDB's own
// full-text index cannot.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { IndexStatus } from '../../protocol/index';
import { plainFullTextRanker } from '../../bench/index-lib';
import { stopDefinitionsWorker } from '../../server/index/definitions';
import { WorkspaceIndex, type IndexOptions } from '../../server/index/workspace-index';
import { fakeVector } from './fake-embeddings';

const tmp = mkdtempSync(join(tmpdir(), 'neox-index-store-'));
const ws = join(tmp, 'ws');
execFileSync(process.execPath, ['test/fixtures/workspace-index/generate.mjs', ws]);
after(async () => {
  rmSync(tmp, { recursive: true, force: true });
  await stopDefinitionsWorker();
});

interface Run {
  index: WorkspaceIndex;
  logs: string[];
  statuses: IndexStatus[];
  embedCalls: () => number;
}

function open(dir: string, patch: Partial<IndexOptions> = {}, identity = 'fake-1'): Run {
  const logs: string[] = [];
  const statuses: IndexStatus[] = [];
  let calls = 0;
  const index = new WorkspaceIndex({
    folders: [pathToFileURL(ws).href],
    dir,
    exclude: [],
    embedder: {
      identity,
      embed: async (texts) => {
        calls++;
        return texts.map(fakeVector);
      },
    },
    busy: () => false,
    onStatus: (s) => statuses.push(s),
    log: (m) => logs.push(m),
    ...patch,
  });
  void index.start();
  return { index, logs, statuses, embedCalls: () => calls };
}

async function build(dir: string, identity?: string): Promise<Run> {
  const run = open(dir, {}, identity);
  await run.index.whenIdle();
  assert.equal(run.index.current.state, 'ready', JSON.stringify(run.index.current));
  return run;
}

test('kept across restarts; rebuilt when made by another model, damaged, or its meta file is gone', async () => {
  const dir = join(tmp, 'idx-a');
  let run = await build(dir);
  const { files, chunks } = run.index.current;
  assert.equal(files, 154);
  await run.index.dispose();

  run = await build(dir);
  assert.equal(run.embedCalls(), 1, 'reopened: only the probe of the vector size is embedded');
  assert.deepEqual([run.index.current.files, run.index.current.chunks], [files, chunks]);
  await run.index.dispose();

  run = await build(dir, 'another-model');
  assert.ok(run.embedCalls() > 100, 'every chunk embedded again');
  assert.match(run.logs.join('\n'), /building it anew \(built with another model \(fake-1, 32 dimensions\)\)/);
  await run.index.dispose();

  // Damaged: the chunk table's data files are gone.
  const data = join(dir, 'chunks.lance', 'data');
  for (const f of readdirSync(data)) rmSync(join(data, f));
  run = await build(dir, 'another-model');
  assert.match(run.logs.join('\n'), /building it anew \(unreadable/);
  assert.equal(run.index.current.chunks, chunks);
  await run.index.dispose();

  // Out of step (a file's chunks gone behind the index's back): that file alone is indexed again.
  const lancedb = await import('@lancedb/lancedb');
  const db = await lancedb.connect(dir);
  await (await db.openTable('chunks')).delete("path = 'src/util/retry.ts'");
  db.close();
  run = await build(dir, 'another-model');
  assert.match(run.logs.join('\n'), /1 files whose chunks did not match their records are indexed again/);
  assert.equal(run.embedCalls(), 2, 'the probe and the one file');
  assert.equal(run.index.current.chunks, chunks);
  await run.index.dispose();

  rmSync(join(dir, 'meta.json'));
  run = await build(dir, 'another-model');
  assert.match(run.logs.join('\n'), /building it anew \(unfinished or from an older version\)/);
  assert.equal(run.index.current.files, 154);
  await run.index.dispose();
});

test('waits while a generation runs and while paused; search works meanwhile; rebuild starts over', async () => {
  const dir = join(tmp, 'idx-b');
  let busy = true;
  let polls = 0;
  let polledEnough!: () => void;
  const waiting = new Promise<void>((r) => (polledEnough = r));
  const run = open(dir, {
    busy: () => {
      if (++polls === 5) polledEnough();
      return busy;
    },
  });
  // Busy from the start: the store opens (one probe embedding), then the loop asks again and again.
  await waiting;
  assert.equal(run.embedCalls(), 1, 'nothing embedded while busy but the probe');
  busy = false;
  await run.index.whenIdle();
  assert.ok(run.embedCalls() > 100, "indexed once no longer busy");

  run.index.pause();
  writeFileSync(join(ws, 'src', 'util', 'paused.ts'), 'export const pausedWork = 1;\n');
  run.index.changed(pathToFileURL(join(ws, 'src', 'util', 'paused.ts')).href);
  assert.equal(run.index.current.state, 'paused');
  assert.deepEqual(await run.index.search('pausedWork', { k: 3, mode: 'keyword' }), [], 'not indexed while paused');
  assert.ok((await run.index.search('haversine', { k: 3, mode: 'keyword' })).length > 0, 'searches still answer');
  run.index.resume();
  await run.index.whenIdle();
  assert.equal((await run.index.search('pausedWork', { k: 3, mode: 'keyword' }))[0]?.path, 'src/util/paused.ts');

  const calls = run.embedCalls();
  run.index.rebuild();
  await run.index.whenIdle();
  assert.ok(run.embedCalls() - calls > 100, 'everything embedded again');
  assert.equal(run.index.current.files, 155);
  await run.index.dispose();
  rmSync(join(ws, 'src', 'util', 'paused.ts'));
});

test("identifier terms find names as people type them, where LanceDB's plain full-text index finds nothing", async () => {
  const code = join(tmp, 'terms-ws');
  const files: Record<string, string> = {
    'config.ts': 'export function parseConfig0(path: string) {\n  return loadSettingsFile(path);\n}\n',
    'limits.go': 'package limits\n\nfunc (b *TokenBucket) AllowRequest() bool {\n\treturn b.remaining > 0\n}\n',
    'orders.py': 'class OrderRepo:\n    def findByCustomerId(self, customerId):\n        return self.rows[customerId]\n',
    'util.rs': 'pub fn levenshteinDistance(a: &str, b: &str) -> usize {\n    a.len().abs_diff(b.len())\n}\n',
  };
  for (const [p, t] of Object.entries(files)) {
    mkdirSync(join(code, p, '..'), { recursive: true });
    writeFileSync(join(code, p), t);
  }
  const dir = join(tmp, 'idx-terms');
  const run = open(dir, { folders: [pathToFileURL(code).href] });
  await run.index.whenIdle();
  const plain = await plainFullTextRanker(dir);
  const cases: [string, string][] = [
    ['parseConfig', 'config.ts'],
    ['parse config', 'config.ts'],
    ['token bucket allow', 'limits.go'],
    ['find by customer', 'orders.py'],
    ['levenshtein', 'util.rs'],
  ];
  for (const [query, want] of cases) {
    assert.equal((await run.index.search(query, { k: 1, mode: 'keyword' }))[0]?.path, want, query);
    assert.ok(!(await plain.rank(query)).includes(want), `the plain index finds ${want} for "${query}" after all`);
  }
  plain.close();
  await run.index.dispose();
});
