/**
 * Where a model reference (`--model`, `neoxComplete.modelPath`) points: an existing folder is used as
 * it is; a Hub id (`EleutherAI/pythia-1.4b`, `ORG/NAME@REVISION`: one slash, not an existing path) is
 * looked up in the Hugging Face cache (refs/<revision> -> snapshots/<commit>) without any request, and
 * downloaded only when the caller allows it (the CLI after printing what and how big; the editor after
 * the user agrees, through `confirm`).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { NeoxError } from '../types';
import { findCachedSnapshot, hubCacheDir, missingFiles, readRef, repoCacheDir, snapshotDir, type CachedSnapshot } from './cache';
import { downloadModel, offlineError, planDownload, type DownloadOptions, type DownloadPlan, type PlanOptions } from './download';
import { isOffline } from './env';
import { hubError } from './errors';

export interface HubRef {
  repo: string;
  revision: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * `ORG/NAME` or `ORG/NAME@REVISION` as a Hub reference, or undefined if `ref` is an existing path or
 * not of that shape (a path to a folder that does not exist yet stays a path, and fails as one).
 */
export function parseHubRef(ref: string): HubRef | undefined {
  if (existsSync(ref)) return undefined;
  const at = ref.indexOf('@');
  const id = at < 0 ? ref : ref.slice(0, at);
  const revision = at < 0 ? 'main' : ref.slice(at + 1);
  const parts = id.split('/');
  if (parts.length !== 2 || !parts.every((p) => NAME.test(p) && p !== '..' && !p.endsWith('.'))) return undefined;
  if (!revision || revision.split('/').some((p) => p === '' || p === '.' || p === '..') || /[\s\\:]/.test(revision)) return undefined;
  return { repo: id, revision };
}

export type ModelLookup =
  | { kind: 'path'; dir: string }
  | { kind: 'hub'; ref: HubRef; cached?: CachedSnapshot; cacheDir: string };

/**
 * What `ref` is, from the file system alone (no network): a folder, or a Hub id with its cached
 * snapshot if complete (holding a whole model, or the `required` files when given). The language server
 * calls this first and, for an uncached Hub id, asks the user before calling resolveModelRef with
 * `download: true` (or `confirm`).
 */
export function lookupModelRef(ref: string, cacheDir = hubCacheDir(), required?: readonly string[]): ModelLookup {
  const hub = parseHubRef(ref);
  if (!hub) return { kind: 'path', dir: resolve(ref) };
  return { kind: 'hub', ref: hub, cached: findCachedSnapshot(hub.repo, hub.revision, cacheDir, required), cacheDir };
}

export interface ResolveOptions extends DownloadOptions, PlanOptions {
  /** Download a Hub model missing from the cache (default false: fail with a message naming `neox pull`). */
  download?: boolean;
  /** Called with what would be downloaded; false cancels (NeoxError code hub_declined). Implies download. */
  confirm?: (plan: DownloadPlan) => Promise<boolean> | boolean;
}

/** The folder to load for `ref` (see the module comment); downloads only as `opts` allows. */
export async function resolveModelRef(ref: string, opts: ResolveOptions = {}): Promise<string> {
  const cacheDir = opts.cacheDir ?? hubCacheDir();
  const found = lookupModelRef(ref, cacheDir, opts.files?.required);
  if (found.kind === 'path') return found.dir;
  if (found.cached) return found.cached.dir;
  const { repo, revision } = found.ref;
  if (opts.offline ?? isOffline()) {
    const repoDir = repoCacheDir(cacheDir, repo);
    const commit = readRef(repoDir, revision);
    throw offlineError(repo, revision, cacheDir, commit && existsSync(snapshotDir(repoDir, commit)) ? missingFiles(snapshotDir(repoDir, commit), opts.files?.required) : undefined);
  }
  if (!opts.download && !opts.confirm) {
    throw hubError(`${repo}@${revision} is not in the Hugging Face cache (${repoCacheDir(cacheDir, repo)}): download it with \`neox pull ${ref}\``, 'hub_not_found');
  }
  const plan = await planDownload(repo, revision, { ...opts, cacheDir }).catch((e: unknown) => {
    // `--model some/dir` with a typo in a relative folder name reads as a Hub id: say both.
    if (e instanceof NeoxError && ['hub_not_found', 'hub_unauthorized', 'hub_network'].includes(e.code)) {
      throw hubError(`${e.message} (and there is no folder ${resolve(ref)})`, e.code);
    }
    throw e;
  });
  if (opts.confirm && !(await opts.confirm(plan))) throw hubError(`Download of ${repo}@${revision} declined`, 'hub_declined');
  return downloadModel(plan, opts);
}
