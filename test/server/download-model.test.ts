/**
 * "NeoX: Download model" through the real language server (stdio) against a Hub stand-in on loopback
 * (test/hub-stand-in.ts) serving the default model's files, with a temporary Hugging Face cache
 * (HF_HUB_CACHE in the server's environment): a modelPath Hub id missing from the cache is the status
 * error naming the command (and neox/modelNotDownloaded); a cancelled neox/downloadModel stops and leaves
 * no complete snapshot; a full one reports neox/downloadProgress, writes the cache, and the same
 * modelPath then loads and completes; neoxComplete.hubUrl picks the Hub; the token of neox/setSecrets
 * (hfToken) opens a gated model.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResponseError } from 'vscode-languageserver-protocol';
import {
  DownloadModelRequest,
  DownloadProgressNotification,
  ModelNotDownloadedNotification,
  SetSecretsNotification,
  type DownloadModelResult,
  type DownloadProgressParams,
  type ModelNotDownloadedParams,
} from '../../protocol/index';
import { folderFiles, hubFile, HubStandIn } from '../hub-stand-in';
import { CancellationTokenSource, startServer, type Harness } from './lsp-harness';

const REPO = 'neox/code-23m';
const COMMIT = 'c0ffee0000000000000000000000000000000023';
const TOKEN = 'hf_standInSecretToken123';
const files = folderFiles('models/neox-code-23m');
const gatedFiles = [files.find((f) => f.path === 'config.json')!, files.find((f) => f.path === 'tokenizer.json')!, hubFile('model.safetensors', Buffer.alloc(4096, 7))];
const hub = new HubStandIn({
  [REPO]: { commit: COMMIT, files },
  'neox/gated': { commit: 'ba5eba11000000000000000000000000000000ed', files: gatedFiles, token: TOKEN },
});

const work = mkdtempSync(join(tmpdir(), 'neox-download-'));
const hfCache = join(work, 'hub');
// The server inherits this process's environment: a cache of its own, no token or endpoint of the user's.
process.env.HF_HUB_CACHE = hfCache;
process.env.HF_HOME = join(work, 'hf-home');
for (const k of ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_HUB_OFFLINE', 'HF_ENDPOINT']) delete process.env[k];

const repoDir = join(hfCache, 'models--neox--code-23m');
const snapshot = join(repoDir, 'snapshots', COMMIT);
const NEEDED = ['config.json', 'tokenizer.json', 'model.safetensors.index.json', ...files.filter((f) => f.path.endsWith('.safetensors')).map((f) => f.path)].sort();

describe('neox/downloadModel through the language server', () => {
  let h: Harness;
  const progress: DownloadProgressParams[] = [];
  const missing: ModelNotDownloadedParams[] = [];

  before(async () => {
    await hub.start();
    h = await startServer({ modelPath: REPO, hubUrl: hub.hubUrl, quantization: 'int8', debounceMs: 0 }, { cacheDir: join(work, 'onnx') });
    h.conn.onNotification(DownloadProgressNotification, (p) => void progress.push(p));
    h.conn.onNotification(ModelNotDownloadedNotification, (p) => void missing.push(p));
  });
  after(async () => {
    await h?.close();
    await hub.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test('a modelPath Hub id not in the cache: status error naming "NeoX: Download model", no request to the Hub', async () => {
    const s = await h.waitStatus((x) => x.state === 'error', { since: 0, timeoutMs: 60_000 });
    assert.match(s.message ?? '', /neox\/code-23m is not downloaded: run NeoX: Download model/);
    assert.equal(s.modelName, 'code-23m');
    // The offer reaches the client once (a repeated failing load does not repeat it).
    for (let i = 0; i < 50 && !missing.length; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(missing.map((m) => m.ref), [REPO]);
    assert.equal(hub.requests.length, 0, 'nothing is downloaded without the user asking');
  });

  test('not a Hub id: InvalidParams', async () => {
    await assert.rejects(h.conn.sendRequest(DownloadModelRequest, { repo: 'not a repo' }), (e: ResponseError<unknown>) => e.code === -32602 && /not a Hugging Face Hub id/.test(e.message));
  });

  test('cancelled while a shard is transferring: stops, no complete snapshot, refs/main not written', async () => {
    const big = files.filter((f) => f.lfs).sort((a, b) => b.bytes.length - a.bytes.length)[0]!;
    hub.stall = { path: big.path, at: 1_000_000 };
    progress.length = 0;
    const cts = new CancellationTokenSource();
    const pending = h.conn.sendRequest(DownloadModelRequest, { repo: REPO, downloadId: 'cancel-me' }, cts.token);
    const t0 = Date.now();
    while (!progress.some((p) => p.file === big.path && p.event === 'start')) {
      assert.ok(Date.now() - t0 < 30_000, 'the big shard started');
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 200));
    cts.cancel();
    const started = Date.now();
    await assert.rejects(pending, (e: ResponseError<unknown>) => e.code === -32800);
    assert.ok(Date.now() - started < 5000, 'the download stopped at once');
    assert.ok(progress.every((p) => p.downloadId === 'cancel-me' && p.repo === REPO));
    assert.ok(!existsSync(join(repoDir, 'refs', 'main')), 'no ref to an incomplete snapshot');
    const have = existsSync(snapshot) ? readdirSync(snapshot) : [];
    assert.ok(!have.includes(big.path), `the stalled shard is not in the snapshot (${have.join(', ')})`);
    hub.stall = undefined;
    const s = await h.conn.sendRequest<{ state: string }>('neox/getStatus');
    assert.equal(s.state, 'error', 'still not downloaded');
  });

  test('a full download: progress with speed and files, the cache layout, then the same modelPath loads and completes', async () => {
    progress.length = 0;
    hub.requests = [];
    const readySince = h.statuses.length;
    const r: DownloadModelResult = await h.conn.sendRequest(DownloadModelRequest, { repo: REPO, downloadId: 'full' });
    assert.equal(r.repo, REPO);
    assert.equal(r.commit, COMMIT);
    assert.equal(r.snapshotDir, snapshot);
    assert.deepEqual(readdirSync(snapshot).sort(), NEEDED);
    assert.ok(existsSync(join(repoDir, 'refs', 'main')));
    assert.ok(r.downloadedBytes > 0 && r.downloadedBytes < r.totalBytes, `resumed after the cancel: ${r.downloadedBytes} of ${r.totalBytes}`);
    assert.ok(hub.requests.every((q) => q.url.startsWith('/api/') || q.url.includes('/resolve/') || q.url.startsWith('/blobs/')));
    assert.ok(hub.requests.length > 0, 'neoxComplete.hubUrl is the Hub asked');
    assert.ok(progress.length >= 3, `progress notifications: ${progress.length}`);
    assert.ok(progress.every((p) => p.downloadId === 'full' && p.totalBytes === r.totalBytes && p.filesTotal === NEEDED.length));
    const last = progress.at(-1)!;
    assert.equal(last.doneBytes, r.totalBytes);
    assert.equal(last.filesDone, NEEDED.length);
    assert.ok(progress.some((p) => p.event === 'resume'), 'the stalled shard is resumed');
    // The settings already name this model: the server loads it now.
    const ready = await h.waitStatus((s) => s.state === 'ready', { since: readySince, timeoutMs: 300_000 });
    assert.equal(ready.modelName, 'code-23m');
    const uri = 'file:///work/project/a.py';
    await h.open(uri, 'python', 'def fibonacci(n):\n    ');
    const list = await h.inline(uri, { line: 1, character: 4 }, { invoked: true });
    assert.ok(list && list.items.length > 0, 'a completion from the downloaded model');
    assert.ok(String(list.items[0]!.insertText).length > 0);
  });

  test('a gated model: refused without a token, downloaded with the one neox/setSecrets sends', async () => {
    await assert.rejects(h.conn.sendRequest(DownloadModelRequest, { repo: 'neox/gated' }), (e: ResponseError<unknown>) => /401/.test(e.message) && !e.message.includes(TOKEN));
    await h.conn.sendNotification(SetSecretsNotification, { hfToken: TOKEN });
    const r: DownloadModelResult = await h.conn.sendRequest(DownloadModelRequest, { repo: 'neox/gated' });
    assert.ok(existsSync(join(r.snapshotDir, 'model.safetensors')));
    assert.ok(hub.requests.some((q) => q.auth === `Bearer ${TOKEN}`));
  });
});
