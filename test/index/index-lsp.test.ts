// The workspace index through the real language server (over stdio), embedding with a remote backend
// pointed at a deterministic stand-in (fake-embeddings.ts), on a copy of the fixture workspace:
// the build and its status, search, updates on save / delete / rename, a kill in the middle of a
// build followed by a restart (same chunks as a clean build, none twice, none lost), related code
// in the completion prompt and in the chat with its sources.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as lancedb from '@lancedb/lancedb';
import { ChatRequest, IndexControlRequest, SearchWorkspaceRequest, type IndexStatus, type SearchWorkspaceResult } from '../../protocol/index';
import { startServer, type Harness } from '../server/lsp-harness';
import { startFakeEmbeddings, type FakeEmbeddings } from './fake-embeddings';

const FIXTURE_FILES = 154;
const tmp = mkdtempSync(join(tmpdir(), 'neox-index-lsp-'));
let fake: FakeEmbeddings;

function workspace(name: string): string {
  const dir = join(tmp, name);
  execFileSync(process.execPath, ['test/fixtures/workspace-index/generate.mjs', dir]);
  return dir;
}

async function start(ws: string, storage: string): Promise<Harness> {
  return startServer({ backend: 'openai', remoteUrl: fake.url }, { workspaceStoragePath: storage }, { rootUri: pathToFileURL(ws).href });
}

const ready = (h: Harness, since = 0) => h.waitStatus((s) => s.index?.state === 'ready' && s.index.filesTotal === s.index.filesDone, { since, timeoutMs: 120_000 });
/** Ready again after work that began after status number `since` (a 'ready' sent before that work began does not count). */
async function reindexed(h: Harness, since: number): Promise<void> {
  const began = await h.waitStatus((s) => s.index?.state === 'indexing' || s.index?.state === 'scanning', { since, timeoutMs: 60_000 });
  await ready(h, h.statuses.indexOf(began) + 1);
}

async function search(h: Harness, query: string, mode?: 'keyword' | 'vector' | 'hybrid'): Promise<SearchWorkspaceResult> {
  return h.conn.sendRequest(SearchWorkspaceRequest, { query, limit: 5, mode });
}

/** The chunks table as (path, lines, text) rows, sorted; and the file records. */
async function dump(storage: string): Promise<{ chunks: string[]; files: string[] }> {
  const db = await lancedb.connect(join(storage, 'workspace-index'));
  const chunks = (await (await db.openTable('chunks')).query().toArray()).map((r) => `${r.path}:${r.start_line}-${r.end_line} ${r.text}`).sort();
  const files = (await (await db.openTable('files')).query().toArray()).map((r) => `${r.path} ${r.hash} ${r.chunks}`).sort();
  db.close();
  return { chunks, files };
}

/** A build left alone from start to end: what every other build must equal. */
let clean: { chunks: string[]; files: string[] };

before(async () => {
  fake = await startFakeEmbeddings();
  const storage = join(tmp, 'reference-storage');
  const h = await start(workspace('reference'), storage);
  await ready(h);
  await h.close();
  clean = await dump(storage);
});
after(async () => {
  await fake?.close();
  rmSync(tmp, { recursive: true, force: true });
});

test('builds in the background with progress in the status, then answers searches; ignored, generated and binary files stay out', async () => {
  const ws = workspace('clean');
  const storage = join(tmp, 'clean-storage');
  const h = await start(ws, storage);
  try {
    const done = await ready(h);
    assert.equal(done.index!.files, FIXTURE_FILES);
    assert.ok(done.index!.chunks > FIXTURE_FILES, `${done.index!.chunks} chunks`);
    const progress = h.statuses.map((s) => s.index).filter((i): i is IndexStatus => !!i);
    assert.ok(progress.some((i) => i.state === 'indexing' && i.filesDone > 0 && i.filesDone < i.filesTotal), 'progress was reported on the way');
    const r = await search(h, 'parseConfig', 'keyword');
    assert.equal(r.results[0]?.path, 'src/config/parse-config.ts');
    assert.equal(r.results[0]?.uri, pathToFileURL(join(ws, 'src/config/parse-config.ts')).href);
    assert.match(r.results[0]!.preview, /readFileSync|AppConfig/);
    assert.equal(r.index.state, 'ready');
    // Hybrid (the default) and vector searches answer too (these vectors are hashes of words: no ranking claim).
    assert.ok((await search(h, 'parseConfig')).results.some((x) => x.path === 'src/config/parse-config.ts'));
    assert.equal((await search(h, 'read the config file', 'vector')).results.length, 5);
    // Each of these holds a decoy function name; none is indexed.
    for (const q of ['retryWithBackoff', 'haversineDistance']) {
      const paths = (await search(h, q, 'keyword')).results.map((x) => x.path);
      assert.ok(!paths.some((p) => p.startsWith('build-output/') || p.includes('/gen/')), `${q}: ${paths.join(', ')}`);
    }
    const built = await dump(storage);
    assert.deepEqual(built, clean, 'the same chunks as the reference build');
    assert.equal(new Set(built.chunks).size, built.chunks.length, 'no chunk twice');
  } finally {
    await h.close();
  }
});

test('killed in the middle of a build, restarted: the index completes and equals a clean build', async () => {
  const ws = workspace('killed');
  const storage = join(tmp, 'killed-storage');
  let h = await start(ws, storage);
  await h.waitStatus((s) => (s.index?.filesDone ?? 0) >= 40 && s.index?.state === 'indexing');
  fake.hold();
  const embeddedBefore = fake.embedded();
  // The server is now waiting on an embedding request, with batches already written: kill it there.
  h.child.kill('SIGKILL');
  await new Promise((r) => h.child.once('exit', r));
  h.conn.dispose();
  fake.release();
  const partial = await dump(storage);
  assert.ok(partial.files.length >= 40 && partial.files.length < FIXTURE_FILES, `${partial.files.length} files written before the kill`);

  h = await start(ws, storage);
  try {
    const done = await ready(h);
    assert.equal(done.index!.files, FIXTURE_FILES);
    // Resumed, not redone: the files written before the kill were not embedded again.
    const embeddedAfter = fake.embedded() - embeddedBefore;
    const all = clean.chunks.length;
    assert.ok(embeddedAfter < all, `embedded ${embeddedAfter} chunks after the restart, of ${all}`);
  } finally {
    await h.close();
  }
  const resumed = await dump(storage);
  assert.deepEqual(resumed.files, clean.files);
  assert.deepEqual(resumed.chunks, clean.chunks);
});

test('follows the files: a saved change, a deleted file, a renamed file; pause holds changes until resumed', async () => {
  const ws = workspace('follow');
  const storage = join(tmp, 'follow-storage');
  const h = await start(ws, storage);
  try {
    await ready(h);
    const uri = (p: string) => pathToFileURL(join(ws, p)).href;
    // Saved: the new function is found, the one it replaced is not.
    const cart = join(ws, 'src/cart/cart.ts');
    await h.open(uri('src/cart/cart.ts'), 'typescript', readFileSync(cart, 'utf8'));
    writeFileSync(cart, readFileSync(cart, 'utf8').replace('remove(sku: string)', 'discardLineItem(sku: string)'));
    let since = h.statuses.length;
    await h.conn.sendNotification('textDocument/didSave', { textDocument: { uri: uri('src/cart/cart.ts') } });
    await reindexed(h, since);
    assert.equal((await search(h, 'discardLineItem', 'keyword')).results[0]?.path, 'src/cart/cart.ts');

    // Deleted (watched-file event): its chunks are gone.
    unlinkSync(join(ws, 'app/geo/distance.py'));
    since = h.statuses.length;
    await h.conn.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: uri('app/geo/distance.py'), type: 3 }] });
    await reindexed(h, since);
    assert.ok(!(await search(h, 'haversine_distance', 'keyword')).results.some((r) => r.path === 'app/geo/distance.py'));

    // Renamed: a delete and a create; found under the new name only.
    renameSync(join(ws, 'native/base64.c'), join(ws, 'native/b64.c'));
    since = h.statuses.length;
    await h.conn.sendNotification('workspace/didChangeWatchedFiles', {
      changes: [
        { uri: uri('native/base64.c'), type: 3 },
        { uri: uri('native/b64.c'), type: 1 },
      ],
    });
    await reindexed(h, since);
    const paths = (await search(h, 'base64_encode', 'keyword')).results.map((r) => r.path);
    assert.equal(paths[0], 'native/b64.c');
    assert.ok(!paths.includes('native/base64.c'));

    // Paused: a change waits; resumed: it is indexed.
    assert.equal((await h.conn.sendRequest(IndexControlRequest, { action: 'pause' })).state, 'paused');
    writeFileSync(join(ws, 'src/util/late.ts'), 'export function lateArrival() {\n  return 1;\n}\n');
    await h.conn.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: uri('src/util/late.ts'), type: 1 }] });
    assert.equal((await search(h, 'lateArrival', 'keyword')).results.length, 0);
    since = h.statuses.length;
    await h.conn.sendRequest(IndexControlRequest, { action: 'resume' });
    await reindexed(h, since);
    assert.equal((await search(h, 'lateArrival', 'keyword')).results[0]?.path, 'src/util/late.ts');
    const files = (await dump(storage)).files.map((f) => f.split(' ')[0]);
    // One file deleted, one added (late.ts); the renamed one counted once.
    assert.equal(files.length, FIXTURE_FILES);
    assert.ok(!files.includes('app/geo/distance.py') && !files.includes('native/base64.c') && files.includes('native/b64.c'));

    // A folder created with a file in it, announced by one event for the folder: the file is found.
    mkdirSync(join(ws, 'billing'));
    writeFileSync(join(ws, 'billing/late_fees.py'), 'def compute_late_fee(days, amount):\n    return amount * 0.01 * days\n');
    since = h.statuses.length;
    await h.conn.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: uri('billing'), type: 1 }] });
    await reindexed(h, since);
    assert.equal((await search(h, 'compute_late_fee', 'keyword')).results[0]?.path, 'billing/late_fees.py');
  } finally {
    await h.close();
  }
});

test('related code from files that are not open goes into the completion prompt; a chat answer lists its sources', async () => {
  const ws = workspace('context');
  const storage = join(tmp, 'context-storage');
  const h = await start(ws, storage);
  try {
    await ready(h);
    const uri = pathToFileURL(join(ws, 'src/checkout.ts')).href;
    const text = "import { retryWithBackoff } from './util/retry';\n\nexport async function pay(order: Order) {\n  return retryWithBackoff(() => gateway.charge(order), ";
    await h.open(uri, 'typescript', text);
    const before = fake.requests.length;
    await h.inline(uri, { line: 3, character: text.split('\n')[3]!.length }, { invoked: true });
    const sent = fake.requests.slice(before).find((r) => r.path === '/v1/completions');
    assert.ok(sent, 'a completion was requested');
    assert.match(sent.body.prompt as string, /Compare this snippet from src\/util\/retry\.ts:\n\/\/ .*export async function retryWithBackoff/s);

    const streamId = 'chat-1';
    const answer = await h.conn.sendRequest(ChatRequest, { streamId, messages: [{ role: 'user', content: 'Where is parseConfig and what does it check?' }] });
    const source = answer.sources?.find((s) => s.path === 'src/config/parse-config.ts');
    assert.ok(source, JSON.stringify(answer.sources));
    assert.equal(source.uri, pathToFileURL(join(ws, 'src/config/parse-config.ts')).href);
    assert.ok(source.startLine <= 12 && source.endLine >= 12, `lines ${source.startLine}-${source.endLine} hold parseConfig (line 13)`);
    const chat = fake.requests.filter((r) => r.path === '/v1/chat/completions').at(-1)!;
    const system = (chat.body.messages as { role: string; content: string }[]).find((m) => m.role === 'system')!.content;
    assert.match(system, /src\/config\/parse-config\.ts:\d+-\d+ \(typescript\):\n```\n[\s\S]*export function parseConfig/);
  } finally {
    await h.close();
  }
});
