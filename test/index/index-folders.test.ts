// The workspace index follows the editor's folders: a folder added while the server runs is indexed
// (its files found under its name), a removed one leaves the index; the prompt header's paths follow too.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SearchWorkspaceRequest } from '../../protocol/index';
import { startServer, type Harness } from '../server/lsp-harness';
import { startFakeEmbeddings, type FakeEmbeddings } from './fake-embeddings';

const tmp = mkdtempSync(join(tmpdir(), 'neox-index-folders-'));
let fake: FakeEmbeddings;
before(async () => {
  fake = await startFakeEmbeddings();
});
after(async () => {
  await fake?.close();
  rmSync(tmp, { recursive: true, force: true });
});

function folder(name: string, files: Record<string, string>): string {
  const dir = join(tmp, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return pathToFileURL(dir).href;
}

/** Ready after work that began after status number `since`. */
async function reindexed(h: Harness, since: number): Promise<void> {
  const began = await h.waitStatus((s) => !!s.index && s.index.state !== 'ready' && s.index.state !== 'off', { since, timeoutMs: 60_000 });
  await h.waitStatus((s) => s.index?.state === 'ready' && s.index.filesTotal === s.index.filesDone, { since: h.statuses.indexOf(began) + 1, timeoutMs: 60_000 });
}

const paths = async (h: Harness, query: string) => (await h.conn.sendRequest(SearchWorkspaceRequest, { query, limit: 5, mode: 'keyword' })).results.map((r) => r.path);

test('a workspace folder added while the server runs is indexed under its name; a removed one leaves the index', async () => {
  const app = folder('app', { 'src/orders.ts': 'export function shipOrder(id: string) {\n  return id;\n}\n' });
  const lib = folder('lib', { 'billing/invoice.py': 'def issue_invoice(order):\n    return order\n' });
  const h = await startServer({ backend: 'openai', remoteUrl: fake.url }, { workspaceStoragePath: join(tmp, 'storage') }, { workspaceFolders: [app] });
  try {
    await reindexed(h, 0);
    assert.deepEqual(await paths(h, 'shipOrder'), ['src/orders.ts']);
    assert.ok(!(await paths(h, 'issue_invoice')).some((p) => p.includes('invoice')));

    let since = h.statuses.length;
    await h.conn.sendNotification('workspace/didChangeWorkspaceFolders', { event: { added: [{ uri: lib, name: 'lib' }], removed: [] } });
    await reindexed(h, since);
    // Two folders: every path starts with its folder's name.
    assert.equal((await paths(h, 'issue_invoice'))[0], 'lib/billing/invoice.py');
    assert.equal((await paths(h, 'shipOrder'))[0], 'app/src/orders.ts');

    since = h.statuses.length;
    await h.conn.sendNotification('workspace/didChangeWorkspaceFolders', { event: { added: [], removed: [{ uri: app, name: 'app' }] } });
    await reindexed(h, since);
    assert.ok(!(await paths(h, 'shipOrder')).some((p) => p.includes('orders')));
    assert.deepEqual(await paths(h, 'issue_invoice'), ['billing/invoice.py']);
  } finally {
    await h.close();
  }
});
