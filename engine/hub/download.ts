/**
 * `neox pull`: a GPT-NeoX-family checkpoint from the Hugging Face Hub into the Hub cache.
 *
 * The official client, @huggingface/hub, answers the questions (modelInfo: which commit a revision is;
 * listFiles, the tree API: the files with their sizes, git oids and LFS sha256). Around it: which files
 * a model needs, the cache layout (cache.ts), resumable verified transfers (transfer.ts), a disk-space
 * check, a bound on parallel files, and progress with speed and time left (progress.ts).
 */
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, statfs } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { NeoxError } from '../types';
import { blobPath, hubCacheDir, linkSnapshotFile, repoCacheDir, snapshotDir, writeRef } from './cache';
import { hubEndpoint, hubToken, isOffline } from './env';
import { hubError, httpStatusError } from './errors';
import { acquireLock } from './lock';
import { SpeedMeter, formatBytes, type DownloadProgress } from './progress';
import { downloadBlob, type RemoteFile } from './transfer';

export interface HubOptions {
  /** Hub or mirror base URL (default: HF_ENDPOINT, else https://huggingface.co). */
  endpoint?: string;
  /** Access token (default: HF_TOKEN, HUGGING_FACE_HUB_TOKEN, or the saved huggingface-cli login). */
  token?: string;
  /** Hub cache folder (default: hubCacheDir()). */
  cacheDir?: string;
  /** Default: HF_HUB_OFFLINE. */
  offline?: boolean;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

/** The small files a model needs besides its weights (config.json and tokenizer.json are required, the others are taken when present). */
export const SIDE_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'];

/** Some files of a repository instead of a whole model: `required` must be there, `optional` are taken when present. */
export interface FileSelection {
  required: readonly string[];
  optional: readonly string[];
}

export interface PlanOptions extends HubOptions {
  /** Only these files (no weights); default: everything a model needs. */
  files?: FileSelection;
}

export interface PlannedFile extends RemoteFile {
  /** blobs/<blobName>: the LFS sha256 or the git blob sha1, as huggingface_hub names blobs. */
  blobName: string;
  /** The blob is already in the cache. */
  cached: boolean;
  /** Bytes of a partial download (`.incomplete`) that will be resumed. */
  partialBytes: number;
}

export interface DownloadPlan {
  repo: string;
  revision: string;
  /** The commit the revision points at: the snapshot folder's name. */
  commit: string;
  endpoint: string;
  cacheDir: string;
  repoDir: string;
  /** snapshots/<commit>: the folder to load once downloaded. */
  snapshotDir: string;
  files: PlannedFile[];
  /** Size of all the files. */
  totalBytes: number;
  /** Bytes still to transfer (not cached, not already partially downloaded). */
  downloadBytes: number;
}

interface Resolved {
  endpoint: string;
  origin: string;
  token?: string;
  cacheDir: string;
  fetch: typeof fetch;
}

function settings(opts: HubOptions): Resolved {
  const endpoint = (opts.endpoint ?? hubEndpoint()).replace(/\/+$/, '');
  return { endpoint, origin: new URL(endpoint).origin, token: opts.token ?? hubToken(), cacheDir: opts.cacheDir ?? hubCacheDir(), fetch: opts.fetch ?? fetch };
}

export function offlineError(repo: string, revision: string, cacheDir: string, missing?: string[]): NeoxError {
  const where = repoCacheDir(cacheDir, repo);
  const what = missing?.length ? `is incomplete in the Hugging Face cache (${where}: missing ${missing.join(', ')})` : `is not in the Hugging Face cache (${where})`;
  return hubError(`${repo}@${revision} ${what} and HF_HUB_OFFLINE is set, so it cannot be downloaded: unset HF_HUB_OFFLINE or run \`neox pull ${repo}${revision === 'main' ? '' : '@' + revision}\` where the Hub can be reached`, 'hub_offline');
}

function sizeOf(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}

/**
 * Ask the Hub which commit `revision` is and which of its files a model needs (or `opts.files`), and
 * compare with the cache. Downloads nothing except a sharded checkpoint's index (a few kB, needed to
 * know its shards).
 */
export async function planDownload(repo: string, revision = 'main', opts: PlanOptions = {}): Promise<DownloadPlan> {
  const s = settings(opts);
  if (opts.offline ?? isOffline()) throw offlineError(repo, revision, s.cacheDir);
  const hub = await import('@huggingface/hub');
  const label = `${repo}@${revision}`;
  // The token is added here rather than through the client's accessToken (which insists on the "hf_"
  // prefix of huggingface.co tokens, and a mirror's need not have it); only for the Hub's own origin.
  let lastErrorCode: string | undefined;
  const hubFetch: typeof fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers = new Headers(init?.headers);
    if (s.token && new URL(url).origin === s.origin) headers.set('Authorization', `Bearer ${s.token}`);
    let res: Response;
    try {
      res = await s.fetch(url, { ...init, headers, signal: opts.signal });
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      const cause = (e as Error).cause as Error | undefined;
      throw hubError(`${label}: cannot reach ${s.endpoint} (${cause?.message ?? (e as Error).message})`, 'hub_network');
    }
    lastErrorCode = res.ok ? undefined : (res.headers.get('x-error-code') ?? undefined);
    return res;
  };
  const apiError = (e: unknown): never => {
    if (e instanceof hub.HubApiError) throw httpStatusError(e.statusCode, label, { tokenSent: !!s.token, errorCode: lastErrorCode, endpoint: s.endpoint });
    throw e;
  };

  const info = await hub.modelInfo({ name: repo, revision, hubUrl: s.endpoint, fetch: hubFetch, additionalFields: ['sha'] }).catch(apiError);
  const commit = (info as { sha?: string }).sha;
  if (!commit || !/^[0-9a-f]{40}$/.test(commit)) throw hubError(`${label}: the Hub's model info names no commit (sha)`, 'hub_http');

  const listed = new Map<string, RemoteFile>();
  try {
    for await (const e of hub.listFiles({ repo: { type: 'model', name: repo }, revision: commit, hubUrl: s.endpoint, fetch: hubFetch })) {
      if (e.type !== 'file') continue;
      listed.set(e.path, e.lfs ? { path: e.path, size: e.lfs.size, sha256: e.lfs.oid } : { path: e.path, size: e.size, gitOid: e.oid });
    }
  } catch (e) {
    apiError(e);
  }

  const repoDir = repoCacheDir(s.cacheDir, repo);
  const snap = snapshotDir(repoDir, commit);
  const plan = (f: RemoteFile): PlannedFile => {
    const blobName = f.sha256 ?? f.gitOid;
    if (!blobName || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(blobName)) throw hubError(`${label}: the Hub lists ${f.path} without a hash`, 'hub_http');
    const blob = blobPath(repoDir, blobName);
    return { ...f, blobName, cached: sizeOf(blob) === f.size, partialBytes: Math.min(sizeOf(`${blob}.incomplete`) ?? 0, f.size) };
  };

  let files: PlannedFile[];
  if (opts.files) {
    const missing = opts.files.required.filter((f) => !listed.has(f));
    if (missing.length) throw hubError(`${label}: no ${missing.join(', ')} in the repository`, 'hub_not_a_model');
    files = [...opts.files.required, ...opts.files.optional.filter((f) => listed.has(f))].map((f) => plan(listed.get(f)!));
  } else {
    if (!listed.has('config.json')) throw hubError(`${label}: no config.json in the repository: not a Transformers model checkpoint`, 'hub_not_a_model');
    if (!listed.has('tokenizer.json')) throw hubError(`${label}: no tokenizer.json in the repository (the engine reads the tokenizer from it)`, 'hub_not_a_model');
    files = SIDE_FILES.filter((f) => listed.has(f)).map((f) => plan(listed.get(f)!));
    files.push(...(await weightFiles(repo, label, listed, plan, { ...s, signal: opts.signal, commit, repoDir, snap })));
  }
  const totalBytes = files.reduce((n, f) => n + f.size, 0);
  const downloadBytes = files.reduce((n, f) => n + (f.cached ? 0 : f.size - f.partialBytes), 0);
  return { repo, revision, commit, endpoint: s.endpoint, cacheDir: s.cacheDir, repoDir, snapshotDir: snap, files, totalBytes, downloadBytes };
}

/**
 * The weights to take: safetensors when the repository has them (an index and the shards it names, or
 * model.safetensors), else the PyTorch files (pytorch_model.bin.index.json and its shards, or
 * pytorch_model.bin). An index is fetched into the cache now to learn its shards.
 */
async function weightFiles(
  repo: string,
  label: string,
  listed: Map<string, RemoteFile>,
  plan: (f: RemoteFile) => PlannedFile,
  ctx: Resolved & { signal?: AbortSignal; commit: string; repoDir: string; snap: string },
): Promise<PlannedFile[]> {
  for (const [index, single] of [
    ['model.safetensors.index.json', 'model.safetensors'],
    ['pytorch_model.bin.index.json', 'pytorch_model.bin'],
  ] as const) {
    if (listed.has(index)) {
      const idx = plan(listed.get(index)!);
      await fetchFile(repo, ctx.commit, idx, ctx);
      const file = join(ctx.snap, index);
      let shards: string[];
      try {
        shards = [...new Set(Object.values((JSON.parse(await readFile(file, 'utf8')) as { weight_map: Record<string, string> }).weight_map))].sort();
      } catch (e) {
        throw hubError(`${label}: ${index} has no readable weight_map (${(e as Error).message})`, 'hub_not_a_model');
      }
      const missing = shards.filter((sh) => !listed.has(sh));
      if (missing.length) throw hubError(`${label}: ${index} names ${missing.join(', ')}, which the repository does not have`, 'hub_not_a_model');
      return [{ ...idx, cached: true, partialBytes: 0 }, ...shards.map((sh) => plan(listed.get(sh)!))];
    }
    if (listed.has(single)) return [plan(listed.get(single)!)];
  }
  throw hubError(`${label}: no model.safetensors or pytorch_model.bin weights among its files (${[...listed.keys()].slice(0, 12).join(', ')})`, 'hub_not_a_model');
}

/** Download one planned file (unless its blob is there) and link it into the snapshot. */
async function fetchFile(
  repo: string,
  commit: string,
  f: PlannedFile,
  ctx: Resolved & { signal?: AbortSignal; repoDir: string; snap: string },
  events: { onBytes?: (n: number) => void; onResume?: (offset: number) => void; idleMs?: number } = {},
): Promise<void> {
  const blob = blobPath(ctx.repoDir, f.blobName);
  if (sizeOf(blob) !== f.size) {
    await mkdir(dirname(blob), { recursive: true });
    // Another process may be writing the same blob: wait for it, then take its result.
    const release = await acquireLock(join(ctx.cacheDir, '.locks', basename(ctx.repoDir), `${f.blobName}.lock`), ctx.signal);
    try {
      if (sizeOf(blob) !== f.size) await transfer();
    } finally {
      await release();
    }
  }
  linkSnapshotFile(blob, join(ctx.snap, f.path));

  function transfer() {
    return downloadBlob(f, blob, {
      url: `${ctx.endpoint}/${repo}/resolve/${commit}/${f.path.split('/').map(encodeURIComponent).join('/')}`,
      hubOrigin: ctx.origin,
      token: ctx.token,
      fetch: ctx.fetch,
      signal: ctx.signal,
      label: `${repo}@${commit.slice(0, 10)} file ${f.path}`,
      ...events,
    });
  }
}

export interface DownloadOptions extends HubOptions {
  /** Files transferred at once (default 4). */
  concurrency?: number;
  onProgress?: (p: DownloadProgress) => void;
  /** A transfer idle this long is cut and resumed (default HF_HUB_DOWNLOAD_TIMEOUT, else 30 s). */
  idleMs?: number;
  /** Free bytes where the cache lives (default: fs.statfs); for tests. */
  freeBytes?: (dir: string) => Promise<number>;
}

async function statfsFree(dir: string): Promise<number> {
  let d = dir;
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  const s = await statfs(d);
  return s.bavail * s.bsize;
}

/**
 * Carry out a plan: check the disk space, download the missing files (at most `concurrency` at a
 * time, each resumed and verified), link them into snapshots/<commit>, then point refs/<revision> at
 * the commit. Resolves to the snapshot folder. On failure or abort, finished files stay in the cache
 * and partial ones stay as `.incomplete` for the next run to resume.
 */
export async function downloadModel(plan: DownloadPlan, opts: DownloadOptions = {}): Promise<string> {
  const s = settings({ ...opts, endpoint: opts.endpoint ?? plan.endpoint, cacheDir: plan.cacheDir });
  if (opts.offline ?? isOffline()) throw offlineError(plan.repo, plan.revision, plan.cacheDir);
  const free = await (opts.freeBytes ?? statfsFree)(plan.cacheDir);
  if (plan.downloadBytes > free) {
    throw hubError(
      `${plan.repo}@${plan.revision}: needs ${formatBytes(plan.downloadBytes)} more in ${plan.cacheDir} but only ${formatBytes(free)} is free; free some space or set HF_HUB_CACHE to another disk`,
      'hub_no_space',
    );
  }
  await mkdir(plan.snapshotDir, { recursive: true });

  const meter = new SpeedMeter();
  let done = 0;
  let filesDone = 0;
  let lastReport = 0;
  const report = (file?: string, event?: DownloadProgress['event']) => {
    const bytesPerSecond = meter.bytesPerSecond();
    const left = plan.totalBytes - done;
    opts.onProgress?.({
      repo: plan.repo,
      doneBytes: done,
      totalBytes: plan.totalBytes,
      filesDone,
      filesTotal: plan.files.length,
      bytesPerSecond,
      secondsLeft: bytesPerSecond > 0 ? left / bytesPerSecond : undefined,
      file,
      event,
    });
  };

  const abort = new AbortController();
  const onOuterAbort = () => abort.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const ctx = { ...s, signal: abort.signal, repoDir: plan.repoDir, snap: plan.snapshotDir };
  const queue = [...plan.files];
  let firstError: unknown;

  const worker = async () => {
    for (let f = queue.shift(); f && !abort.signal.aborted; f = queue.shift()) {
      const cached = sizeOf(blobPath(plan.repoDir, f.blobName)) === f.size;
      if (cached) {
        done += f.size;
        filesDone++;
        linkSnapshotFile(blobPath(plan.repoDir, f.blobName), join(plan.snapshotDir, f.path));
        report(f.path, 'cached');
        continue;
      }
      if (!sizeOf(`${blobPath(plan.repoDir, f.blobName)}.incomplete`)) report(f.path, 'start');
      await fetchFile(plan.repo, plan.commit, f, ctx, {
        idleMs: opts.idleMs,
        onResume: (offset) => {
          done += offset;
          report(f.path, 'resume');
        },
        onBytes: (n) => {
          done += n;
          if (n > 0) meter.add(n);
          // At most 10 reports a second, whatever the chunk size (the editor forwards each one).
          const now = performance.now();
          if (now - lastReport < 100) return;
          lastReport = now;
          report();
        },
      });
      filesDone++;
      report(f.path, 'done');
    }
  };
  // Small files first: a refused token or a bad repository shows up before gigabytes move.
  queue.sort((a, b) => a.size - b.size);
  report();
  const workers = Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 4, queue.length)) }, () =>
    worker().catch((e) => {
      firstError ??= e;
      abort.abort(e);
    }),
  );
  await Promise.all(workers);
  opts.signal?.removeEventListener('abort', onOuterAbort);
  if (firstError !== undefined) throw opts.signal?.aborted ? opts.signal.reason : firstError;
  if (opts.signal?.aborted) throw opts.signal.reason;
  writeRef(plan.repoDir, plan.revision, plan.commit);
  return plan.snapshotDir;
}
