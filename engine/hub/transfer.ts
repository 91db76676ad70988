/**
 * Downloading one file into the cache's blobs/ folder, resumable and verified.
 *
 * Written here rather than taken from @huggingface/hub: its downloadFileToCacheDir always starts
 * `<blob>.incomplete` from byte 0 (no Range resume), reports no progress, checks no hash, and names
 * the snapshot folder after the file's last commit instead of the revision's commit. This keeps the
 * huggingface_hub conventions (blobs/<name>.incomplete, renamed into place only once verified):
 *  - an existing `.incomplete` is continued with `Range: bytes=N-` (a server that answers 200 instead
 *    of 206 is started over); a connection cut mid-file is retried the same way;
 *  - the bytes are hashed as they arrive (the resumed prefix first): sha256 for LFS files, the git
 *    blob sha1 for small git files; a mismatch deletes the file and the error names it;
 *  - redirects are followed by hand so the access token goes only to the Hub's own origin, never to
 *    the storage host a `resolve/` URL redirects to.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { NeoxError } from '../types';
import { hubError, httpStatusError } from './errors';

export interface RemoteFile {
  /** Path in the repository, e.g. "model-00001-of-00003.safetensors". */
  path: string;
  size: number;
  /** LFS files: the sha256 of the content (also the blob's name). */
  sha256?: string;
  /** Git-stored files: the git blob sha1 (also the blob's name). */
  gitOid?: string;
}

export interface TransferOptions {
  /** The `resolve/<commit>/<path>` URL. */
  url: string;
  /** Origin of the Hub (or mirror): only requests to it carry the token. */
  hubOrigin: string;
  token?: string;
  fetch: typeof fetch;
  signal?: AbortSignal;
  /** Names the file in errors: "ORG/NAME@rev file F". */
  label: string;
  /** Bytes newly written (negative when a restart from zero throws bytes away). */
  onBytes?: (n: number) => void;
  /** Called once with the size of a partial download found on disk and continued. */
  onResume?: (offset: number) => void;
  /** Failed attempts allowed in a row without progress (default 4). */
  retries?: number;
  /** A transfer that receives nothing for this long is cut and retried (default HF_HUB_DOWNLOAD_TIMEOUT seconds, else 30 s). */
  idleMs?: number;
  /** Backoff before retry n (ms); default 250 * 2^n. */
  backoffMs?: (attempt: number) => number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

/** Retryable: the server or the network, not the request. */
class TransientError extends Error {}

function newHash(file: RemoteFile): Hash {
  if (file.sha256) return createHash('sha256');
  const h = createHash('sha1');
  h.update(`blob ${file.size}\0`);
  return h;
}

async function hashPrefix(h: Hash, path: string): Promise<void> {
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

/** GET with Range, following redirects by hand; the token only goes to the Hub's origin. */
async function get(opts: TransferOptions, offset: number): Promise<Response> {
  let url = opts.url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const headers: Record<string, string> = { 'Accept-Encoding': 'identity' };
    if (offset > 0) headers.Range = `bytes=${offset}-`;
    if (opts.token && new URL(url).origin === opts.hubOrigin) headers.Authorization = `Bearer ${opts.token}`;
    let res: Response;
    try {
      res = await opts.fetch(url, { headers, redirect: 'manual', signal: opts.signal });
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      throw new TransientError(`cannot reach ${new URL(url).origin} (${(e as Error).cause ? String(((e as Error).cause as Error).message ?? (e as Error).cause) : (e as Error).message})`);
    }
    if (!REDIRECTS.has(res.status)) return res;
    const location = res.headers.get('location');
    await res.body?.cancel();
    if (!location) throw hubError(`${opts.label}: redirect without a Location header`, 'hub_http');
    url = new URL(location, url).href;
  }
  throw hubError(`${opts.label}: more than ${MAX_REDIRECTS} redirects`, 'hub_http');
}

/**
 * Download `file` into `dest` (a blobs/ path): resumes `dest.incomplete`, retries cut connections,
 * verifies the hash, then renames into place. On a hash mismatch the partial file is deleted and a
 * NeoxError (code hub_checksum) names the file. On abort the `.incomplete` stays for a later resume.
 */
export async function downloadBlob(file: RemoteFile, dest: string, opts: TransferOptions): Promise<void> {
  const incomplete = `${dest}.incomplete`;
  let offset = (await sizeOf(incomplete)) ?? 0;
  if (offset > file.size) {
    await rm(incomplete, { force: true });
    offset = 0;
  }
  let hash = newHash(file);
  if (offset > 0) {
    await hashPrefix(hash, incomplete);
    opts.onResume?.(offset);
  }
  const retries = opts.retries ?? 4;
  const idleMs = opts.idleMs ?? (Number(process.env.HF_HUB_DOWNLOAD_TIMEOUT) > 0 ? Number(process.env.HF_HUB_DOWNLOAD_TIMEOUT) * 1000 : 30_000);
  const backoff = opts.backoffMs ?? ((n: number) => 250 * 2 ** n);
  let failures = 0;
  let lastError = '';

  const restart = async () => {
    opts.onBytes?.(-offset);
    await rm(incomplete, { force: true });
    offset = 0;
    hash = newHash(file);
  };

  if (file.size === 0) await writeFile(incomplete, '');
  while (offset < file.size) {
    if (failures > retries) throw hubError(`${opts.label}: download failed after ${failures} attempts (${lastError}); run the command again to resume`, 'hub_network');
    if (failures > 0) await new Promise((r) => setTimeout(r, backoff(failures - 1)));
    opts.signal?.throwIfAborted();
    const before = offset;
    try {
      const res = await get(opts, offset);
      if (res.status === 416 && offset > 0) {
        // The range starts at or past the end: what we have is the whole file or garbage; start over.
        await res.body?.cancel();
        await restart();
        continue;
      }
      if (res.status === 429 || res.status >= 500) {
        await res.body?.cancel();
        throw new TransientError(`HTTP ${res.status}`);
      }
      if (res.status !== 200 && res.status !== 206) {
        await res.body?.cancel();
        throw httpStatusError(res.status, opts.label, { tokenSent: !!opts.token, errorCode: res.headers.get('x-error-code') ?? undefined, endpoint: opts.hubOrigin });
      }
      if (offset > 0) {
        const start = Number(/^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1]);
        if (res.status === 200 || start !== offset) await restart(); // Range not honoured: take the whole body
      }
      const fh = await open(incomplete, offset > 0 ? 'a' : 'w');
      // The body is read by hand: an abort, or no data for idleMs, cancels the reader. (Relying on fetch's
      // signal alone, a read pending when the signal fired was seen to never settle.)
      const reader = res.body?.getReader();
      let stalled = false;
      let timer: NodeJS.Timeout | undefined;
      const cancel = () => void reader?.cancel().catch(() => undefined);
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          stalled = true;
          cancel();
        }, idleMs);
      };
      opts.signal?.addEventListener('abort', cancel, { once: true });
      try {
        arm();
        for (;;) {
          const next = await reader?.read();
          if (!next || next.done) break;
          arm();
          const chunk = next.value;
          if (offset + chunk.length > file.size) throw hubError(`${opts.label}: the server sent more than the ${file.size} bytes the Hub lists`, 'hub_checksum');
          await fh.write(chunk);
          hash.update(chunk);
          offset += chunk.length;
          opts.onBytes?.(chunk.length);
        }
      } finally {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', cancel);
        await fh.close();
      }
      opts.signal?.throwIfAborted();
      if (stalled) throw new TransientError(`no data for ${idleMs / 1000} s`);
      if (offset < file.size) throw new TransientError(`the connection closed after ${offset} of ${file.size} bytes`);
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      if (e instanceof NeoxError && e.code === 'hub_checksum') {
        await rm(incomplete, { force: true });
        throw e;
      }
      if (e instanceof NeoxError) throw e;
      // A cut mid-body surfaces as a TypeError ("terminated") from the body stream.
      lastError = e instanceof TransientError ? e.message : `${(e as Error).message}${(e as Error).cause ? ` (${String(((e as Error).cause as Error).message ?? (e as Error).cause)})` : ''}`;
      offset = (await sizeOf(incomplete)) ?? 0; // the file holds exactly what was hashed
      failures = offset > before ? 1 : failures + 1;
      continue;
    }
  }

  const digest = hash.digest('hex');
  const expected = file.sha256 ?? file.gitOid;
  if (expected && digest !== expected) {
    await rm(incomplete, { force: true });
    throw hubError(
      `${opts.label}: ${file.sha256 ? 'sha256' : 'git blob sha1'} mismatch (expected ${expected}, got ${digest}); the downloaded file was deleted, run the command again`,
      'hub_checksum',
    );
  }
  await rename(incomplete, dest);
}
