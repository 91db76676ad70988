/**
 * The Hugging Face Hub cache, laid out exactly as huggingface_hub (huggingface-cli, transformers) lays it
 * out, so a model downloaded by either is used by the other without downloading it again:
 *
 *   $HF_HUB_CACHE/models--ORG--NAME/
 *     blobs/<sha256 for LFS files, git blob sha1 otherwise>   the bytes ("<name>.incomplete" while downloading)
 *     snapshots/<commit>/<file>                               relative symlinks to ../../blobs/<name>
 *     refs/<revision>                                         the commit a branch or tag pointed at
 *
 * Everything here is synchronous and touches no network, so the language server can look a model up
 * cheaply. (@huggingface/hub's getHFHubCachePath reads the same variables; it is not imported here so
 * that a cache lookup does not load the whole client.)
 */
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';

export const COMMIT_RE = /^[0-9a-f]{40}$/;

/** HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir =
    env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE || join(env.HF_HOME || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'huggingface'), 'hub');
  return resolve(dir);
}

/** `models--ORG--NAME` (huggingface_hub's repo_folder_name). */
export function repoFolderName(repo: string): string {
  return ['models', ...repo.split('/')].join('--');
}

export function repoCacheDir(cacheDir: string, repo: string): string {
  return join(cacheDir, repoFolderName(repo));
}

export function blobPath(repoDir: string, blobName: string): string {
  return join(repoDir, 'blobs', blobName);
}

export function snapshotDir(repoDir: string, commit: string): string {
  return join(repoDir, 'snapshots', commit);
}

/** The commit a revision names in the cache: itself if it is a commit hash, else refs/<revision>. */
export function readRef(repoDir: string, revision: string): string | undefined {
  if (COMMIT_RE.test(revision)) return revision;
  try {
    const commit = readFileSync(join(repoDir, 'refs', revision), 'utf8').trim();
    return COMMIT_RE.test(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

export function writeRef(repoDir: string, revision: string, commit: string): void {
  if (revision === commit) return;
  const file = join(repoDir, 'refs', revision);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, commit);
}

/**
 * Point snapshots/<commit>/<file> at its blob with a relative symlink (huggingface_hub's
 * _create_symlink), or a copy where symlinks are not allowed (Windows without developer mode).
 */
export function linkSnapshotFile(blob: string, pointer: string): void {
  mkdirSync(dirname(pointer), { recursive: true });
  try {
    if (lstatSync(pointer, { throwIfNoEntry: false })) rmSync(pointer, { force: true });
  } catch {
    // nothing there
  }
  try {
    symlinkSync(relative(dirname(pointer), blob), pointer);
  } catch {
    copyFileSync(blob, pointer);
  }
}

/**
 * The files of `dir` (a snapshot or any checkpoint folder) that loading a model needs and that are not
 * there: config.json, tokenizer.json and the weights (a safetensors index and every shard it names,
 * model.safetensors, a pytorch_model.bin index and its shards, or pytorch_model.bin). Empty when complete.
 */
export function missingModelFiles(dir: string): string[] {
  const missing = ['config.json', 'tokenizer.json'].filter((f) => !existsSync(join(dir, f)));
  const weights = weightFilesIn(dir);
  if (!weights) return [...missing, 'model.safetensors (or pytorch_model.bin)'];
  return [...missing, ...weights.filter((f) => !existsSync(join(dir, f)))];
}

/** The weight files a folder's index names (plus the index), or its single-file checkpoint; undefined if none. */
function weightFilesIn(dir: string): string[] | undefined {
  for (const [index, single] of [
    ['model.safetensors.index.json', 'model.safetensors'],
    ['pytorch_model.bin.index.json', 'pytorch_model.bin'],
  ] as const) {
    if (existsSync(join(dir, index))) {
      try {
        const map = (JSON.parse(readFileSync(join(dir, index), 'utf8')) as { weight_map?: Record<string, string> }).weight_map ?? {};
        return [index, ...new Set(Object.values(map))];
      } catch {
        return [index];
      }
    }
    if (existsSync(join(dir, single))) return [single];
  }
  return undefined;
}

export interface CachedSnapshot {
  repo: string;
  revision: string;
  commit: string;
  /** snapshots/<commit>: the folder to load. */
  dir: string;
}

/**
 * The files of `dir` that a caller needs and that are not there: those of `required` when given (a caller
 * that needs only some files, such as the tokenizer's), else what loading a model needs (missingModelFiles).
 */
export function missingFiles(dir: string, required?: readonly string[]): string[] {
  return required ? required.filter((f) => !existsSync(join(dir, f))) : missingModelFiles(dir);
}

/**
 * The cached snapshot of `repo` at `revision` if it holds every file needed (missingFiles: a whole model
 * unless `required` names fewer), else undefined. No network.
 */
export function findCachedSnapshot(repo: string, revision = 'main', cacheDir = hubCacheDir(), required?: readonly string[]): CachedSnapshot | undefined {
  const repoDir = repoCacheDir(cacheDir, repo);
  const commit = readRef(repoDir, revision);
  if (!commit) return undefined;
  const dir = snapshotDir(repoDir, commit);
  if (!existsSync(dir) || missingFiles(dir, required).length) return undefined;
  return { repo, revision, commit, dir };
}
