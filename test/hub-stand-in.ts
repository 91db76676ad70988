/**
 * A small Hugging Face Hub stand-in on loopback for tests through the language server (the engine's own
 * tests, test/engine/hub.test.ts, have a fuller one with faults): the model-info and tree APIs, `resolve/`
 * URLs that redirect (LFS files to a storage host on another origin, git files to a same-origin path),
 * Range requests, gated repositories (401 without the token), a stall on demand (a file's transfer
 * stops after some bytes and the connection stays open until the client gives up: for cancelling), and
 * a hold (the transfer pauses after some bytes until the test lets it finish: for a download in progress).
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface HubFile {
  path: string;
  bytes: Buffer;
  lfs: boolean;
  sha256: string;
  gitOid: string;
}

export function hubFile(path: string, bytes: Buffer): HubFile {
  const lfs = /\.(safetensors|bin)$/.test(path);
  const gitOid = createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
  return { path, bytes, lfs, sha256: createHash('sha256').update(bytes).digest('hex'), gitOid };
}

/** A folder's files as Hub files (plus a .gitattributes, which a download must skip). */
export function folderFiles(dir: string): HubFile[] {
  return [...readdirSync(dir).map((f) => hubFile(f, readFileSync(join(dir, f)))), hubFile('.gitattributes', Buffer.from('*.safetensors filter=lfs diff=lfs merge=lfs -text\n'))];
}

export interface StandInRepo {
  commit: string;
  files: HubFile[];
  /** Files need `Authorization: Bearer <token>`. */
  token?: string;
}

export class HubStandIn {
  requests: { method: string; url: string; auth?: string }[] = [];
  /** Stop sending `path` after `at` bytes and hold the connection open (until the client closes it). */
  stall?: { path: string; at: number };
  /** Pause sending `path` after `at` bytes until `release` resolves, then send the rest. */
  hold?: { path: string; at: number; release: Promise<void> };
  hubUrl = '';
  private hub!: Server;
  private cdn!: Server;
  private cdnUrl = '';

  constructor(readonly repos: Record<string, StandInRepo>) {}

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

  private file(name: string): HubFile | undefined {
    for (const r of Object.values(this.repos)) for (const f of r.files) if (f.path === name || f.sha256 === name) return f;
    return undefined;
  }

  private json(r: ServerResponse, status: number, body: unknown, errorCode?: string): void {
    r.writeHead(status, { 'content-type': 'application/json', ...(errorCode ? { 'x-error-code': errorCode } : {}) });
    r.end(JSON.stringify(body));
  }

  private handle(origin: 'hub' | 'cdn', q: IncomingMessage, r: ServerResponse): void {
    const url = new URL(q.url!, 'http://x');
    this.requests.push({ method: q.method!, url: url.pathname, auth: q.headers.authorization });
    if (origin === 'cdn') {
      const f = this.file(/^\/blobs\/([0-9a-f]{64})$/.exec(url.pathname)?.[1] ?? '');
      return f ? this.send(f, q, r) : this.json(r, 404, { error: 'no such blob' });
    }
    let m: RegExpExecArray | null;
    if ((m = /^\/api\/models\/([^/]+\/[^/]+)\/(revision|tree)\/([^/]+)$/.exec(url.pathname))) {
      const repo = this.repos[m[1]!];
      if (!repo) return this.json(r, 404, { error: 'Repository not found' }, 'RepoNotFound');
      const rev = decodeURIComponent(m[3]!);
      if (rev !== 'main' && rev !== repo.commit) return this.json(r, 404, { error: `Invalid rev id: ${rev}` }, 'RevisionNotFound');
      if (m[2] === 'revision') {
        return this.json(r, 200, { _id: 'x', id: m[1], sha: repo.commit, private: false, gated: repo.token ? 'auto' : false, downloads: 0, likes: 0, lastModified: '2026-01-01T00:00:00.000Z' });
      }
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
      const repo = this.repos[m[1]!];
      if (!repo) return this.json(r, 404, { error: 'Repository not found' }, 'RepoNotFound');
      if (repo.token && q.headers.authorization !== `Bearer ${repo.token}`) {
        return this.json(r, q.headers.authorization ? 403 : 401, { error: `Access to model ${m[1]} is restricted.` }, 'GatedRepo');
      }
      const f = repo.files.find((x) => x.path === decodeURIComponent(m![3]!));
      if (!f) return this.json(r, 404, { error: 'Entry not found' }, 'EntryNotFound');
      const location = f.lfs ? `${this.cdnUrl}/blobs/${f.sha256}` : `/api/resolve-cache/${encodeURIComponent(f.path)}`;
      r.writeHead(302, { location, 'x-repo-commit': repo.commit, 'x-linked-etag': `"${f.lfs ? f.sha256 : f.gitOid}"`, 'x-linked-size': String(f.bytes.length) });
      return void r.end();
    }
    if ((m = /^\/api\/resolve-cache\/(.+)$/.exec(url.pathname))) {
      const f = this.file(decodeURIComponent(m[1]!));
      return f ? this.send(f, q, r) : this.json(r, 404, { error: 'Entry not found' }, 'EntryNotFound');
    }
    this.json(r, 404, { error: 'no route' });
  }

  private send(f: HubFile, q: IncomingMessage, r: ServerResponse): void {
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(q.headers.range ?? '');
    const etag = `"${f.lfs ? f.sha256 : f.gitOid}"`;
    if (range) {
      start = Number(range[1]);
      if (start >= f.bytes.length) {
        r.writeHead(416, { 'content-range': `bytes */${f.bytes.length}` });
        return void r.end();
      }
      r.writeHead(206, { 'content-length': f.bytes.length - start, 'content-range': `bytes ${start}-${f.bytes.length - 1}/${f.bytes.length}`, etag });
    } else r.writeHead(200, { 'content-length': f.bytes.length, etag, 'accept-ranges': 'bytes' });
    const body = f.bytes.subarray(start);
    if (this.stall && this.stall.path === f.path && start < this.stall.at) {
      r.write(body.subarray(0, this.stall.at - start));
      return;
    }
    const hold = this.hold;
    if (hold && hold.path === f.path) {
      const first = Math.max(0, hold.at - start);
      if (first > 0) r.write(body.subarray(0, first));
      // A client that gave up meanwhile has closed the connection: nothing more to send.
      void hold.release.then(() => r.destroyed || r.end(body.subarray(first)));
      return;
    }
    r.end(body);
  }
}
