/**
 * Models from the Hugging Face Hub (engine/hub/, `neox pull`, `--model ORG/NAME`) against a Hub stand-in
 * served on loopback: the model-info and tree APIs, `resolve/` URLs that redirect (LFS files to a storage
 * host on another origin, git files to a same-origin path, as the Hub does), Range requests, a gated
 * repository, and faults on demand (a connection cut half-way through a file, corrupted bytes). It
 * serves the files of models/neox-code-23m and counts every request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { NeoxError } from '../../engine/types';
import { findCachedSnapshot, hubCacheDir, repoFolderName } from '../../engine/hub/cache';
import { downloadModel, planDownload } from '../../engine/hub/download';
import { hubEndpoint, hubToken, isOffline } from '../../engine/hub/env';
import { formatProgress, type DownloadProgress } from '../../engine/hub/progress';
import { parseHubRef, resolveModelRef } from '../../engine/hub/resolve';

const MODEL = 'models/neox-code-23m';
const SHARDS = ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors'];
const NEEDED = ['config.json', 'tokenizer.json', 'model.safetensors.index.json', ...SHARDS];
const TOKEN = 'hf_standInSecretToken123';
const COMMIT = 'c0ffee0000000000000000000000000000000023';
const GATED_COMMIT = 'ba5eba11000000000000000000000000000000ed';

const work = mkdtempSync(join(tmpdir(), 'neox-hub-'));
const onnxCache = join(work, 'onnx');
test.after(() => rmSync(work, { recursive: true, force: true }));
// In-process calls read the token and cache from the environment when not given: keep the user's out.
process.env.HF_HOME = join(work, 'hf-home');
delete process.env.HF_TOKEN;
delete process.env.HUGGING_FACE_HUB_TOKEN;
delete process.env.HF_HUB_OFFLINE;
delete process.env.HF_HUB_CACHE;

// ---------------------------------------------------------------- the stand-in Hub

interface HubFile {
  path: string;
  bytes: Buffer;
  lfs: boolean;
  sha256: string;
  gitOid: string;
}

function hubFile(path: string, bytes: Buffer): HubFile {
  const lfs = /\.(safetensors|bin)$/.test(path);
  const gitOid = createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
  return { path, bytes, lfs, sha256: createHash('sha256').update(bytes).digest('hex'), gitOid };
}

const modelFiles = [...readdirSync(MODEL).map((f) => hubFile(f, readFileSync(join(MODEL, f)))), hubFile('.gitattributes', Buffer.from('*.safetensors filter=lfs diff=lfs merge=lfs -text\n'))];
const byName = new Map(modelFiles.map((f) => [f.path, f]));
const blobName = (f: HubFile) => (f.lfs ? f.sha256 : f.gitOid);

// A PyTorch-only checkpoint (for file selection; the bytes are stand-ins) and a repository without weights.
const binIndex = { metadata: {}, weight_map: { 'a.weight': 'pytorch_model-00001-of-00002.bin', 'b.weight': 'pytorch_model-00002-of-00002.bin' } };
const binFiles = [
  byName.get('config.json')!,
  byName.get('tokenizer.json')!,
  hubFile('pytorch_model.bin.index.json', Buffer.from(JSON.stringify(binIndex))),
  hubFile('pytorch_model-00001-of-00002.bin', Buffer.alloc(1000, 1)),
  hubFile('pytorch_model-00002-of-00002.bin', Buffer.alloc(500, 2)),
  hubFile('tf_model.h5', Buffer.alloc(300, 3)),
  hubFile('generation_config.json', Buffer.from('{}')),
];

interface Repo {
  commit: string;
  gated?: boolean;
  files: HubFile[];
}
const REPOS: Record<string, Repo> = {
  'neox/code-23m': { commit: COMMIT, files: modelFiles },
  'neox/gated-23m': { commit: GATED_COMMIT, gated: true, files: modelFiles },
  'neox/bin-only': { commit: 'b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1', files: binFiles },
  'neox/no-weights': { commit: 'e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0', files: binFiles.filter((f) => !f.path.includes('pytorch_model')) },
};
for (const f of binFiles) byName.set(f.path, f);

interface Logged {
  method: string;
  url: string;
  origin: 'hub' | 'cdn';
  range?: string;
  auth?: string;
}

class StandIn {
  requests: Logged[] = [];
  /** Cut the connection once after this many bytes of the named file (or, with stall, stop sending and keep it open). */
  cut?: { path: string; at: number; done?: boolean; stall?: boolean };
  /** Serve this file with one byte changed. */
  corrupt?: string;
  /** Answer Range requests with the whole file (200), as some proxies do. */
  ignoreRange = false;
  activeCdn = 0;
  maxActiveCdn = 0;
  hub!: Server;
  cdn!: Server;
  hubUrl = '';
  cdnUrl = '';

  async start(): Promise<void> {
    this.hub = createServer((q, r) => this.handle('hub', q, r));
    this.cdn = createServer((q, r) => this.handle('cdn', q, r));
    for (const s of [this.hub, this.cdn]) await new Promise<void>((res) => s.listen(0, '127.0.0.1', res));
    this.hubUrl = `http://127.0.0.1:${(this.hub.address() as AddressInfo).port}`;
    this.cdnUrl = `http://127.0.0.1:${(this.cdn.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const s of [this.hub, this.cdn]) {
      s.closeAllConnections();
      await new Promise((res) => s.close(res));
    }
  }

  reset(): void {
    this.requests = [];
    this.cut = undefined;
    this.corrupt = undefined;
    this.ignoreRange = false;
    this.maxActiveCdn = 0;
  }

  private json(r: ServerResponse, status: number, body: unknown, errorCode?: string): void {
    r.writeHead(status, { 'content-type': 'application/json', ...(errorCode ? { 'x-error-code': errorCode } : {}) });
    r.end(JSON.stringify(body));
  }

  private handle(origin: 'hub' | 'cdn', q: IncomingMessage, r: ServerResponse): void {
    const url = new URL(q.url!, 'http://x');
    this.requests.push({ method: q.method!, url: url.pathname + url.search, origin, range: q.headers.range, auth: q.headers.authorization });
    if (origin === 'cdn') return this.serveCdn(url, q, r);
    let m: RegExpExecArray | null;
    if ((m = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname))) {
      const repo = REPOS[m[1]!];
      if (!repo) return this.json(r, 404, { error: 'Repository not found' }, 'RepoNotFound');
      const rev = decodeURIComponent(m[2]!);
      if (rev !== 'main' && rev !== repo.commit) return this.json(r, 404, { error: `Invalid rev id: ${rev}` }, 'RevisionNotFound');
      return this.json(r, 200, { _id: 'x', id: m[1], sha: repo.commit, private: false, gated: repo.gated ? 'auto' : false, downloads: 0, likes: 0, lastModified: '2026-01-01T00:00:00.000Z' });
    }
    if ((m = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(url.pathname))) {
      const repo = REPOS[m[1]!];
      if (!repo) return this.json(r, 404, { error: 'Repository not found' }, 'RepoNotFound');
      if (m[2] !== repo.commit && m[2] !== 'main') return this.json(r, 404, { error: 'Invalid rev id' }, 'RevisionNotFound');
      return this.json(
        r,
        200,
        repo.files.map((f) => ({
          type: 'file',
          oid: f.lfs ? createHash('sha1').update(f.sha256).digest('hex') : f.gitOid,
          size: f.bytes.length,
          path: f.path,
          ...(f.lfs ? { lfs: { oid: f.sha256, size: f.bytes.length, pointerSize: 134 } } : {}),
        })),
      );
    }
    if ((m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname))) {
      const repo = REPOS[m[1]!];
      if (!repo) return this.json(r, 404, { error: 'Repository not found' }, 'RepoNotFound');
      if (m[2] !== repo.commit && m[2] !== 'main') return this.json(r, 404, { error: 'Invalid rev id' }, 'RevisionNotFound');
      if (repo.gated && q.headers.authorization !== `Bearer ${TOKEN}`) {
        return this.json(r, q.headers.authorization ? 403 : 401, { error: `Access to model ${m[1]} is restricted.` }, 'GatedRepo');
      }
      const f = byName.get(decodeURIComponent(m[3]!));
      if (!f) return this.json(r, 404, { error: 'Entry not found' }, 'EntryNotFound');
      // LFS files go to the storage host (another origin); git files to a same-origin cache path.
      const location = f.lfs ? `${this.cdnUrl}/blobs/${f.sha256}?path=${encodeURIComponent(f.path)}` : `/api/resolve-cache/models/${m[1]}/${repo.commit}/${encodeURIComponent(f.path)}`;
      r.writeHead(302, { location, 'x-repo-commit': repo.commit, 'x-linked-etag': `"${blobName(f)}"`, 'x-linked-size': String(f.bytes.length) });
      return void r.end();
    }
    if ((m = /^\/api\/resolve-cache\/models\/[^/]+\/[^/]+\/[^/]+\/(.+)$/.exec(url.pathname))) {
      const f = byName.get(decodeURIComponent(m[1]!));
      if (!f) return this.json(r, 404, { error: 'Entry not found' }, 'EntryNotFound');
      return this.send(f, q, r);
    }
    this.json(r, 404, { error: 'no route' });
  }

  private serveCdn(url: URL, q: IncomingMessage, r: ServerResponse): void {
    const sha = /^\/blobs\/([0-9a-f]{64})$/.exec(url.pathname)?.[1];
    const f = [...byName.values()].find((x) => x.sha256 === sha);
    if (!f) return this.json(r, 404, { error: 'no such blob' });
    this.activeCdn++;
    this.maxActiveCdn = Math.max(this.maxActiveCdn, this.activeCdn);
    r.on('close', () => this.activeCdn--);
    // Hold each transfer open a moment so parallel downloads overlap measurably.
    setTimeout(() => this.send(f, q, r), 30);
  }

  private send(f: HubFile, q: IncomingMessage, r: ServerResponse): void {
    let bytes = f.bytes;
    if (this.corrupt === f.path) {
      bytes = Buffer.from(bytes);
      bytes[bytes.length >> 1] ^= 0xff;
    }
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(q.headers.range ?? '');
    if (range && !this.ignoreRange) {
      start = Number(range[1]);
      if (start >= bytes.length) {
        r.writeHead(416, { 'content-range': `bytes */${bytes.length}` });
        return void r.end();
      }
      r.writeHead(206, { 'content-length': bytes.length - start, 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}`, etag: `"${blobName(f)}"` });
    } else r.writeHead(200, { 'content-length': bytes.length, etag: `"${blobName(f)}"`, 'accept-ranges': 'bytes' });
    const body = bytes.subarray(start);
    if (this.cut && this.cut.path === f.path && !this.cut.done && start < this.cut.at) {
      this.cut.done = true;
      const stall = this.cut.stall;
      r.write(body.subarray(0, this.cut.at - start), () => stall || setTimeout(() => r.socket?.destroy(), 20));
      return;
    }
    r.end(body);
  }
}

const hub = new StandIn();
test.before(() => hub.start());
test.after(() => hub.stop());

let cacheCount = 0;
function freshCache(): string {
  const dir = join(work, `hub-cache-${++cacheCount}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function neox(args: string[], env: Record<string, string | undefined>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const full: NodeJS.ProcessEnv = { ...process.env, HF_HOME: join(work, 'hf-home'), HF_ENDPOINT: hub.hubUrl };
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete full[k];
      else full[k] = v;
    }
    const p = spawn(process.execPath, ['--import', 'tsx', 'engine/cli/neox.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: full });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** The snapshot is huggingface_hub's layout: relative symlinks into blobs/ named by sha256 / git oid. */
function assertLayout(cacheDir: string, repo: string, commit: string): string {
  const repoDir = join(cacheDir, repoFolderName(repo));
  assert.equal(readFileSync(join(repoDir, 'refs', 'main'), 'utf8'), commit);
  const snap = join(repoDir, 'snapshots', commit);
  assert.deepEqual(readdirSync(snap).sort(), [...NEEDED].sort(), 'only the files a model needs (no README.md, no .gitattributes)');
  for (const name of NEEDED) {
    const f = byName.get(name)!;
    const link = join(snap, name);
    assert.ok(lstatSync(link).isSymbolicLink(), `${name} is a symlink`);
    assert.equal(readlinkSync(link), join('..', '..', 'blobs', blobName(f)), `${name} points at ../../blobs/<${f.lfs ? 'sha256' : 'git oid'}>`);
    assert.ok(readFileSync(link).equals(f.bytes), `${name} has the right bytes`);
  }
  assert.deepEqual(readdirSync(join(repoDir, 'blobs')).filter((b) => b.endsWith('.incomplete')), [], 'no partial files left');
  return snap;
}

const cdnGets = (path: string) => hub.requests.filter((r) => r.origin === 'cdn' && r.url.includes(`path=${encodeURIComponent(path)}`));

// ---------------------------------------------------------------- tests

test('parseHubRef: ORG/NAME[@REVISION] is a Hub id unless it is an existing path', () => {
  assert.deepEqual(parseHubRef('EleutherAI/pythia-1.4b'), { repo: 'EleutherAI/pythia-1.4b', revision: 'main' });
  assert.deepEqual(parseHubRef('EleutherAI/pythia-1.4b@step1000'), { repo: 'EleutherAI/pythia-1.4b', revision: 'step1000' });
  assert.deepEqual(parseHubRef('org/name@refs/pr/1'), { repo: 'org/name', revision: 'refs/pr/1' });
  assert.equal(parseHubRef('models/neox-code-23m'), undefined, 'an existing folder stays a path');
  for (const bad of ['pythia', '/abs/path', 'a/b/c', './a/b', 'a/..', 'org/name@', 'org/name@../x', '~/models']) assert.equal(parseHubRef(bad), undefined, bad);
});

test('environment: HF_ENDPOINT, HF_TOKEN or the saved login token, HF_HUB_OFFLINE', () => {
  assert.equal(hubEndpoint({}), 'https://huggingface.co');
  assert.equal(hubEndpoint({ HF_ENDPOINT: 'https://hf-mirror.example/' }), 'https://hf-mirror.example');
  const home = join(work, 'token-home');
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, 'token'), 'hf_savedByLogin\n');
  assert.equal(hubToken({ HF_HOME: home }), 'hf_savedByLogin');
  assert.equal(hubToken({ HF_HOME: home, HF_TOKEN: 'hf_fromEnv' }), 'hf_fromEnv');
  assert.equal(hubToken({ HF_HOME: join(work, 'nowhere') }), undefined);
  for (const v of ['1', 'true', 'YES', 'on']) assert.equal(isOffline({ HF_HUB_OFFLINE: v }), true, v);
  for (const v of [undefined, '0', 'false', '']) assert.equal(isOffline({ HF_HUB_OFFLINE: v }), false, String(v));
});

test('formatProgress shows percent, sizes, speed, time left and files', () => {
  const p: DownloadProgress = { repo: 'r', doneBytes: 450e6, totalBytes: 1e9, filesDone: 3, filesTotal: 7, bytesPerSecond: 12.3e6, secondsLeft: 44.7 };
  assert.equal(formatProgress(p), '45% 450 MB / 1.00 GB, 12.3 MB/s, 45 s left, 3/7 files');
});

test('neox pull: full download into the Hub cache layout, then generate from the snapshot folder', async () => {
  hub.reset();
  const cache = freshCache();
  const r = await neox(['pull', 'neox/code-23m'], { HF_HUB_CACHE: cache });
  assert.equal(r.code, 0, r.stderr);
  const snap = assertLayout(cache, 'neox/code-23m', COMMIT);
  assert.equal(r.stdout.trim(), snap, 'the snapshot folder on stdout');
  assert.match(r.stderr, /neox: pull neox\/code-23m@main \(commit c0ffee000000\): 6 files, 4\d\.\d MB; 4\d\.\d MB to download into /);
  assert.match(r.stderr, /100% 4\d\.\d MB \/ 4\d\.\d MB, .*6\/6 files/, 'progress with sizes and files');
  assert.match(r.stderr, /done in [\d.]+ s/);
  // The API through the official client, then resolve/ with redirects; LFS bytes from the storage origin.
  assert.ok(hub.requests.some((q) => q.url.startsWith(`/api/models/neox/code-23m/revision/main?`)), 'model-info API');
  assert.ok(hub.requests.some((q) => q.url.startsWith(`/api/models/neox/code-23m/tree/${COMMIT}`)), 'tree API at the commit');
  for (const s of SHARDS) assert.equal(cdnGets(s).length, 1, `${s} fetched once from the storage host`);
  assert.ok(hub.requests.some((q) => q.url === `/api/resolve-cache/models/neox/code-23m/${COMMIT}/config.json`), 'same-origin redirect followed');
  assert.ok(!hub.requests.some((q) => q.url.includes('README.md')), 'README.md is not downloaded');
  assert.ok(hub.maxActiveCdn >= 2 && hub.maxActiveCdn <= 4, `files in parallel, at most 4 (saw ${hub.maxActiveCdn})`);

  // A second pull finds everything cached: the API is asked for the commit, no file moves.
  hub.reset();
  const again = await neox(['pull', 'neox/code-23m', '--concurrency', '2'], { HF_HUB_CACHE: cache });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /already in /);
  assert.equal(hub.requests.filter((q) => q.origin === 'cdn' || q.url.includes('/resolve')).length, 0);

  hub.reset();
  const gen = await neox(['generate', '--model', snap, '--quant', 'fp32', '--cache-dir', onnxCache, '--max-tokens', '8', '--json', 'def fibonacci(n):'], { HF_HUB_CACHE: cache });
  assert.equal(gen.code, 0, gen.stderr);
  const out = JSON.parse(gen.stdout) as { ids: number[]; text: string };
  assert.equal(out.ids.length, 8);
  assert.ok(out.text.length > 0);
  assert.equal(hub.requests.length, 0, 'a snapshot folder is a plain --model folder');
});

test('resolveModelRef downloads a Hub id into the cache when allowed, then resolves it with no request', async () => {
  hub.reset();
  const cacheDir = freshCache();
  await assert.rejects(resolveModelRef('neox/code-23m', { cacheDir, endpoint: hub.hubUrl }), (e: NeoxError) => {
    assert.equal(e.code, 'hub_not_found');
    assert.match(e.message, /neox\/code-23m@main is not in the Hugging Face cache \(.*models--neox--code-23m\): download it with `neox pull neox\/code-23m`/);
    return true;
  });
  assert.equal(hub.requests.length, 0, 'no download unless allowed');
  const events: DownloadProgress[] = [];
  const dir = await resolveModelRef('neox/code-23m', { cacheDir, endpoint: hub.hubUrl, download: true, concurrency: 2, onProgress: (p) => events.push(p) });
  assert.equal(dir, assertLayout(cacheDir, 'neox/code-23m', COMMIT));
  assert.ok(hub.maxActiveCdn <= 2, `--concurrency 2 holds (saw ${hub.maxActiveCdn})`);
  const last = events.at(-1)!;
  assert.equal(last.doneBytes, last.totalBytes);
  assert.equal(last.filesDone, 6);
  assert.deepEqual(events.filter((e) => e.event === 'start').map((e) => e.file).sort(), [...NEEDED].filter((f) => f !== 'model.safetensors.index.json').sort());
  hub.reset();
  assert.equal(await resolveModelRef('neox/code-23m', { cacheDir, endpoint: hub.hubUrl }), dir);
  assert.equal(await resolveModelRef(`neox/code-23m@${COMMIT}`, { cacheDir, endpoint: hub.hubUrl }), dir);
  assert.equal(await resolveModelRef(MODEL, { cacheDir }), join(process.cwd(), MODEL), 'a folder stays a folder');
  assert.equal(hub.requests.length, 0);
});

test('a connection cut half-way through a shard is resumed with Range and verified; so is a partial file left on disk', async () => {
  hub.reset();
  const cacheDir = freshCache();
  const shard = byName.get(SHARDS[1]!)!;
  const half = shard.bytes.length >> 1;
  hub.cut = { path: shard.path, at: half };
  const plan = await planDownload('neox/code-23m', 'main', { cacheDir, endpoint: hub.hubUrl });
  const dir = await downloadModel(plan, { cacheDir, endpoint: hub.hubUrl });
  assertLayout(cacheDir, 'neox/code-23m', COMMIT);
  assert.ok(hub.cut.done, 'the cut happened');
  const ranges = cdnGets(shard.path).map((q) => q.range);
  assert.equal(ranges.length, 2);
  assert.equal(ranges[0], undefined);
  const from = Number(/^bytes=(\d+)-$/.exec(ranges[1] ?? '')?.[1]);
  assert.ok(from > 0 && from <= half, `the second request continues where the cut left off (${ranges[1]}, cut at ${half})`);
  assert.ok(readFileSync(join(dir, shard.path)).equals(shard.bytes));

  // A transfer that stops sending without closing is cut after the idle timeout and resumed the same way.
  hub.reset();
  const cacheS = freshCache();
  hub.cut = { path: shard.path, at: half, stall: true };
  await downloadModel(await planDownload('neox/code-23m', 'main', { cacheDir: cacheS, endpoint: hub.hubUrl }), { cacheDir: cacheS, endpoint: hub.hubUrl, idleMs: 500 });
  assertLayout(cacheS, 'neox/code-23m', COMMIT);
  assert.equal(cdnGets(shard.path).length, 2);
  assert.match(cdnGets(shard.path)[1]!.range ?? '', /^bytes=\d+-$/);

  // An interrupted run left blobs/<sha>.incomplete behind: the next run continues it.
  hub.reset();
  const cache2 = freshCache();
  const blobs = join(cache2, repoFolderName('neox/code-23m'), 'blobs');
  mkdirSync(blobs, { recursive: true });
  const third = shard.bytes.length / 3 | 0;
  writeFileSync(join(blobs, `${shard.sha256}.incomplete`), shard.bytes.subarray(0, third));
  const plan2 = await planDownload('neox/code-23m', 'main', { cacheDir: cache2, endpoint: hub.hubUrl });
  assert.equal(plan2.files.find((f) => f.path === shard.path)!.partialBytes, third);
  assert.equal(plan2.downloadBytes, plan2.totalBytes - third - byName.get('model.safetensors.index.json')!.bytes.length, 'the index is fetched while planning');
  const events: DownloadProgress[] = [];
  await downloadModel(plan2, { cacheDir: cache2, endpoint: hub.hubUrl, onProgress: (p) => events.push(p) });
  assertLayout(cache2, 'neox/code-23m', COMMIT);
  assert.deepEqual(cdnGets(shard.path).map((q) => q.range), [`bytes=${third}-`]);
  assert.ok(events.some((e) => e.event === 'resume' && e.file === shard.path));

  // A server that ignores Range (200 with the whole file): the partial file is started over, still verified.
  hub.reset();
  hub.ignoreRange = true;
  const cache3 = freshCache();
  const blobs3 = join(cache3, repoFolderName('neox/code-23m'), 'blobs');
  mkdirSync(blobs3, { recursive: true });
  writeFileSync(join(blobs3, `${shard.sha256}.incomplete`), shard.bytes.subarray(0, third));
  const events3: DownloadProgress[] = [];
  await downloadModel(await planDownload('neox/code-23m', 'main', { cacheDir: cache3, endpoint: hub.hubUrl }), { cacheDir: cache3, endpoint: hub.hubUrl, onProgress: (p) => events3.push(p) });
  assertLayout(cache3, 'neox/code-23m', COMMIT);
  assert.deepEqual(cdnGets(shard.path).map((q) => q.range), [`bytes=${third}-`]);
  assert.equal(events3.at(-1)!.doneBytes, events3.at(-1)!.totalBytes, 'progress does not count the discarded bytes twice');
});

test('a file whose sha256 does not match is deleted and the error names it', async () => {
  hub.reset();
  const cacheDir = freshCache();
  const bad = byName.get(SHARDS[2]!)!;
  hub.corrupt = bad.path;
  const plan = await planDownload('neox/code-23m', 'main', { cacheDir, endpoint: hub.hubUrl });
  await assert.rejects(downloadModel(plan, { cacheDir, endpoint: hub.hubUrl }), (e: NeoxError) => {
    assert.equal(e.code, 'hub_checksum');
    assert.match(e.message, new RegExp(`neox/code-23m@c0ffee0000 file ${bad.path.replace(/\./g, '\\.')}: sha256 mismatch \\(expected ${bad.sha256}, got [0-9a-f]{64}\\); the downloaded file was deleted`));
    return true;
  });
  const repoDir = join(cacheDir, repoFolderName('neox/code-23m'));
  assert.ok(!existsSync(join(repoDir, 'blobs', bad.sha256)) && !existsSync(join(repoDir, 'blobs', `${bad.sha256}.incomplete`)), 'nothing of the bad file is kept');
  assert.ok(!existsSync(join(repoDir, 'snapshots', COMMIT, bad.path)));
  assert.ok(!existsSync(join(repoDir, 'refs', 'main')), 'no ref to an incomplete snapshot');
  assert.equal(findCachedSnapshot('neox/code-23m', 'main', cacheDir), undefined);
  // A second try with good bytes completes, keeping the files that were verified (the failure stopped the
  // transfers still running; those resume or restart).
  const verified = SHARDS.filter((sh) => existsSync(join(repoDir, 'blobs', byName.get(sh)!.sha256)));
  hub.reset();
  await downloadModel(await planDownload('neox/code-23m', 'main', { cacheDir, endpoint: hub.hubUrl }), { cacheDir, endpoint: hub.hubUrl });
  assertLayout(cacheDir, 'neox/code-23m', COMMIT);
  const fetched = SHARDS.filter((sh) => cdnGets(sh).length > 0);
  assert.ok(fetched.includes(bad.path));
  assert.deepEqual(fetched.filter((sh) => verified.includes(sh)), [], 'verified files are not fetched again');
});

test('a gated model: 401 without a token, downloaded with HF_TOKEN, which reaches only the Hub origin and is never printed', async () => {
  hub.reset();
  const cache = freshCache();
  const denied = await neox(['pull', 'neox/gated-23m'], { HF_HUB_CACHE: cache });
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /neox pull: neox\/gated-23m@ba5eba1100 file [\w.-]+: the Hub refused access \(401\): the repository is gated or private .*set HF_TOKEN/);
  const wrong = await neox(['pull', 'neox/gated-23m'], { HF_HUB_CACHE: cache, HF_TOKEN: 'hf_notTheRightOne' });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /\(403\): the access token \(HF_TOKEN\) does not grant access/);
  assert.ok(!wrong.stderr.includes('hf_notTheRightOne'));

  hub.reset();
  const ok = await neox(['pull', 'neox/gated-23m'], { HF_HUB_CACHE: cache, HF_TOKEN: TOKEN });
  assert.equal(ok.code, 0, ok.stderr);
  assertLayout(cache, 'neox/gated-23m', GATED_COMMIT);
  assert.ok(!ok.stderr.includes(TOKEN) && !ok.stdout.includes(TOKEN), 'the token is never printed');
  assert.ok(hub.requests.filter((q) => q.origin === 'hub').every((q) => q.auth === `Bearer ${TOKEN}`), 'every Hub request carries it');
  assert.ok(hub.requests.filter((q) => q.origin === 'cdn').every((q) => q.auth === undefined), 'the storage host never sees it');
});

test('404 for an unknown repository or revision, one line naming it', async () => {
  hub.reset();
  const cache = freshCache();
  const repo = await neox(['pull', 'neox/no-such-model'], { HF_HUB_CACHE: cache });
  assert.equal(repo.code, 1);
  assert.equal(repo.stderr.trim().split('\n').length, 1, repo.stderr);
  assert.match(repo.stderr, /^neox pull: neox\/no-such-model@main: repository not found on http:\/\/127\.0\.0\.1:\d+ \(404\)/);
  await assert.rejects(planDownload('neox/code-23m', 'v9', { cacheDir: cache, endpoint: hub.hubUrl }), (e: NeoxError) => {
    assert.equal(e.code, 'hub_not_found');
    assert.match(e.message, /^neox\/code-23m@v9: revision not found .*\(404\)/);
    return true;
  });
  const usage = await neox(['pull', 'not-a-repo-id'], { HF_HUB_CACHE: cache });
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /"not-a-repo-id" is not a Hub repository id/);
  assert.ok(!existsSync(join(cache, repoFolderName('neox/no-such-model'))), 'nothing is written for an unknown repository');
});

test('HF_HUB_OFFLINE=1 never touches the network: uses the cache, or fails naming the repo and the cache folder', async () => {
  hub.reset();
  const cache = freshCache();
  const miss = await neox(['pull', 'neox/code-23m'], { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1' });
  assert.equal(miss.code, 1);
  assert.ok(miss.stderr.includes(`neox/code-23m@main is not in the Hugging Face cache (${join(cache, 'models--neox--code-23m')}) and HF_HUB_OFFLINE is set`), miss.stderr);
  const gen = await neox(['generate', '--model', 'neox/code-23m', 'x'], { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1' });
  assert.equal(gen.code, 1);
  assert.match(gen.stderr, /neox generate: neox\/code-23m@main is not in the Hugging Face cache .* HF_HUB_OFFLINE is set/);
  assert.equal(hub.requests.length, 0);

  await downloadModel(await planDownload('neox/code-23m', 'main', { cacheDir: cache, endpoint: hub.hubUrl }), { cacheDir: cache, endpoint: hub.hubUrl });
  hub.reset();
  const hit = await neox(['pull', 'neox/code-23m'], { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1' });
  assert.equal(hit.code, 0, hit.stderr);
  assert.equal(hit.stdout.trim(), join(cache, 'models--neox--code-23m', 'snapshots', COMMIT));
  assert.equal(await resolveModelRef('neox/code-23m', { cacheDir: cache, offline: true }), hit.stdout.trim());
  // A snapshot missing a shard is reported as incomplete, naming what is missing.
  rmSync(join(cache, 'models--neox--code-23m', 'snapshots', COMMIT, SHARDS[0]!));
  await assert.rejects(resolveModelRef('neox/code-23m', { cacheDir: cache, offline: true, download: true }), /is incomplete in the Hugging Face cache \(.*: missing model-00001-of-00003\.safetensors\) and HF_HUB_OFFLINE is set/);
  assert.equal(hub.requests.length, 0);
});

test("a cache laid out by hand as huggingface-cli does (under HF_HOME/hub) is found and used with no request", async () => {
  hub.reset();
  const home = join(work, 'hand-home');
  const cache = join(home, 'hub');
  const repoDir = join(cache, 'models--neox--code-23m');
  const commit = '1234567890abcdef1234567890abcdef12345678';
  const snap = join(repoDir, 'snapshots', commit);
  mkdirSync(join(repoDir, 'blobs'), { recursive: true });
  mkdirSync(join(repoDir, 'refs'));
  mkdirSync(snap, { recursive: true });
  writeFileSync(join(repoDir, 'refs', 'main'), commit);
  for (const f of modelFiles) {
    writeFileSync(join(repoDir, 'blobs', blobName(f)), f.bytes);
    symlinkSync(relative(snap, join(repoDir, 'blobs', blobName(f))), join(snap, f.path));
  }
  assert.equal(findCachedSnapshot('neox/code-23m', 'main', cache)?.dir, snap);
  assert.equal(hubCacheDir({ HF_HOME: home }), cache);
  assert.equal(hubCacheDir({ HF_HUB_CACHE: '/x/hub-cache', HF_HOME: home }), '/x/hub-cache');
  assert.equal(hubCacheDir({ XDG_CACHE_HOME: '/x/xdg' }), '/x/xdg/huggingface/hub');
  const gen = await neox(['generate', '--model', 'neox/code-23m', '--quant', 'fp32', '--cache-dir', onnxCache, '--max-tokens', '6', '--json', 'import os\n'], {
    HF_HUB_CACHE: undefined,
    HF_HOME: home,
  });
  assert.equal(gen.code, 0, gen.stderr);
  assert.equal((JSON.parse(gen.stdout) as { ids: number[] }).ids.length, 6);
  assert.doesNotMatch(gen.stderr, /downloading/);
  assert.equal(hub.requests.length, 0, 'no request to the Hub');
  // And the reverse: what neox pull writes is what huggingface_hub reads (the layout checks above).
  assert.equal(realpathSync(join(snap, 'config.json')), join(repoDir, 'blobs', byName.get('config.json')!.gitOid));
});

test('the disk-space check stops before any file is transferred', async () => {
  hub.reset();
  const cacheDir = freshCache();
  const plan = await planDownload('neox/code-23m', 'main', { cacheDir, endpoint: hub.hubUrl });
  hub.reset();
  await assert.rejects(downloadModel(plan, { cacheDir, endpoint: hub.hubUrl, freeBytes: async () => 10e6 }), (e: NeoxError) => {
    assert.equal(e.code, 'hub_no_space');
    assert.match(e.message, /^neox\/code-23m@main: needs 4\d\.\d MB more in .* but only 10\.0 MB is free/);
    return true;
  });
  assert.equal(hub.requests.length, 0);
});

test('file selection: safetensors when present, else the pytorch_model*.bin index and its shards; none is an error', async () => {
  hub.reset();
  const cacheDir = freshCache();
  const plan = await planDownload('neox/bin-only', 'main', { cacheDir, endpoint: hub.hubUrl });
  assert.deepEqual(plan.files.map((f) => f.path), ['config.json', 'tokenizer.json', 'generation_config.json', 'pytorch_model.bin.index.json', 'pytorch_model-00001-of-00002.bin', 'pytorch_model-00002-of-00002.bin']);
  const dir = await downloadModel(plan, { cacheDir, endpoint: hub.hubUrl });
  assert.ok(readFileSync(join(dir, 'pytorch_model-00002-of-00002.bin')).equals(Buffer.alloc(500, 2)));
  assert.equal(findCachedSnapshot('neox/bin-only', 'main', cacheDir)?.dir, dir, 'a .bin snapshot counts as complete');
  await assert.rejects(planDownload('neox/no-weights', 'main', { cacheDir, endpoint: hub.hubUrl }), (e: NeoxError) => {
    assert.equal(e.code, 'hub_not_a_model');
    assert.match(e.message, /^neox\/no-weights@main: no model\.safetensors or pytorch_model\.bin weights among its files \(config\.json, tokenizer\.json, tf_model\.h5/);
    return true;
  });
});

test('two downloads of the same model at once (CLI and editor): each file crosses the network once, both get the snapshot', async () => {
  hub.reset();
  const cacheDir = freshCache();
  const [a, b] = await Promise.all([
    planDownload('neox/code-23m', 'main', { cacheDir, endpoint: hub.hubUrl }).then((p) => downloadModel(p, { cacheDir, endpoint: hub.hubUrl })),
    planDownload('neox/code-23m', 'main', { cacheDir, endpoint: hub.hubUrl }).then((p) => downloadModel(p, { cacheDir, endpoint: hub.hubUrl })),
  ]);
  assert.equal(a, b);
  assertLayout(cacheDir, 'neox/code-23m', COMMIT);
  for (const sh of SHARDS) assert.equal(cdnGets(sh).length, 1, sh);
  assert.deepEqual(readdirSync(join(cacheDir, '.locks', 'models--neox--code-23m')), [], 'locks released');
});
