/**
 * llama.cpp beside our engine: where its build and the GGUF converter are (../shared/peer, see its
 * README), and the GGUF files of a checkpoint, made once into .cache/peer/ and reused while they are
 * newer than the checkpoint. Used by `npm run bench:peer` and the llama-server integration test.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const shared = resolve(repo, '..', 'shared');

export const PEER = {
  /** A llama.cpp build folder (bin/ with llama-bench, llama-server, llama-quantize). */
  llamaCpp: join(shared, 'peer', 'llama.cpp'),
  /** make-gguf.sh CHECKPOINT_DIR OUT_PREFIX: OUT_PREFIX-{F32,Q8_0,Q4_0}.gguf. */
  makeGguf: join(shared, 'peer', 'make-gguf.sh'),
  /** Where the GGUF files (and bench:peer's other builds) are kept between runs. */
  cacheDir: join(repo, '.cache', 'peer'),
};

/** The GGUF types make-gguf.sh writes. */
export const GGUF_TYPES = ['F32', 'Q8_0', 'Q4_0'] as const;

/**
 * Why make-gguf.sh cannot run here (its converter needs python3 with numpy and PyYAML, for llama.cpp's
 * gguf-py), with the command that fixes it; undefined when it can.
 */
export function ggufPythonProblem(): string | undefined {
  const r = spawnSync('python3', ['-c', 'import numpy, yaml'], { encoding: 'utf8' });
  if (r.status === 0) return undefined;
  const why = r.error ? `python3 not found (${r.error.message})` : (r.stderr.trim().split('\n').at(-1) ?? `exit ${r.status}`);
  return `python3 with numpy and PyYAML is needed to convert a checkpoint to GGUF (${why}); install them: sudo apt-get install -y python3-numpy python3-yaml (node scripts/system-deps.mjs does it as root)`;
}

/**
 * `dir`'s GGUF files as `<cacheDir>/<name>-{F32,Q8_0,Q4_0}.gguf`, made with make-gguf.sh when one is
 * missing or older than the checkpoint (into a temporary folder first, so an interrupted run leaves
 * nothing half-written). Returns the prefix. Throws an Error saying what is missing or what failed.
 */
export function ensureGguf(dir: string, name: string, opts: { cacheDir?: string; makeGguf?: string; log?: (m: string) => void } = {}): string {
  const cacheDir = opts.cacheDir ?? PEER.cacheDir;
  const makeGguf = resolve(opts.makeGguf ?? PEER.makeGguf);
  const prefix = join(cacheDir, name);
  const checkpoint = Math.max(...readdirSync(dir).map((f) => statSync(join(dir, f)).mtimeMs));
  const fresh = (t: string) => existsSync(`${prefix}-${t}.gguf`) && statSync(`${prefix}-${t}.gguf`).mtimeMs >= checkpoint;
  if (GGUF_TYPES.every(fresh)) return prefix;
  if (!existsSync(makeGguf)) throw new Error(`${makeGguf} not found: the GGUF converter comes with ../shared/peer (see its README)`);
  const problem = ggufPythonProblem();
  if (problem) throw new Error(problem);
  opts.log?.(`making ${prefix}-{${GGUF_TYPES.join(',')}}.gguf with ${makeGguf}`);
  mkdirSync(cacheDir, { recursive: true });
  const tmp = mkdtempSync(join(cacheDir, 'gguf-'));
  try {
    const r = spawnSync('bash', [makeGguf, dir, join(tmp, name)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.status !== 0) throw new Error(`${makeGguf} ${dir} failed (exit ${r.status ?? r.signal}): ${r.stderr.trim().split('\n').slice(-5).join(' | ')}`);
    for (const t of GGUF_TYPES) renameSync(join(tmp, `${name}-${t}.gguf`), `${prefix}-${t}.gguf`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return prefix;
}
