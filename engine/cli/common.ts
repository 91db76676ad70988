/** Options every model-using subcommand shares, and turning them into a loaded backend. */
import { statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { NeoxError, QUANTIZATIONS, type LoadProgress, type Quantization } from '../types';
import { createLocalBackend, type LocalBackend } from '../local/local-backend';
import type { FileSelection } from '../hub/download';
import type { ArgValues, OptionSpec } from './command';
import { UsageError } from './command';
import { defaultModelDir } from '../assets';

export const modelOptions: OptionSpec = {
  model: { type: 'string' },
  quant: { type: 'string' },
  'block-size': { type: 'string' },
  'cache-dir': { type: 'string' },
  threads: { type: 'string' },
  adapter: { type: 'string', multiple: true },
};

export const modelUsage = `Model options:
  --model DIR        Hugging Face GPT-NeoX checkpoint folder, or a Hub id ORG/NAME[@REVISION] taken from
                     the Hugging Face cache or downloaded into it (default: the embedded models/neox-code-23m)
  --quant Q          fp32 | int8 | int4 (default int8)
  --block-size N     int4 block size, 32 (default) or 128
  --cache-dir DIR    where built ONNX models are cached (default: the user cache folder)
  --threads N        onnxruntime threads (default: all cores)
  --adapter DIR      a PEFT LoRA adapter folder (adapter_config.json, adapter_model.safetensors) merged into
                     the weights before quantization; repeat to apply several, in order`;

export function str(v: ArgValues, name: string): string | undefined {
  const x = v[name];
  return typeof x === 'string' ? x : undefined;
}

/** Parse a numeric flag; the error names the flag. */
export function num(v: ArgValues, name: string, opts: { int?: boolean; min?: number; max?: number } = {}): number | undefined {
  const s = str(v, name);
  if (s === undefined) return undefined;
  const n = Number(s);
  const ok = s.trim() !== '' && Number.isFinite(n) && (!opts.int || Number.isInteger(n)) && (opts.min === undefined || n >= opts.min) && (opts.max === undefined || n <= opts.max);
  if (!ok) {
    const range = [opts.min !== undefined ? `>= ${opts.min}` : '', opts.max !== undefined ? `<= ${opts.max}` : ''].filter(Boolean).join(' and ');
    throw new UsageError(`--${name} must be ${opts.int ? 'an integer' : 'a number'}${range ? ' ' + range : ''} (got "${s}")`);
  }
  return n;
}

/** Progress lines on stderr, at most one per stage per 10% so builds do not flood the terminal. */
export function stderrProgress(): (p: LoadProgress) => void {
  let last = '';
  return (p) => {
    const pct = p.fraction === undefined ? '' : ` ${Math.floor(p.fraction * 10) * 10}%`;
    const line = `neox: ${p.stage}${pct}: ${p.message}`;
    const key = `${p.stage}${pct}`;
    if (key === last && p.fraction !== undefined) return;
    last = key;
    process.stderr.write(line + '\n');
  };
}

export function backendFromArgs(v: ArgValues, extra: { maxBatch?: number } = {}): LocalBackend {
  const quant = (str(v, 'quant') ?? 'int8') as Quantization;
  if (!QUANTIZATIONS.includes(quant)) throw new UsageError(`--quant must be one of ${QUANTIZATIONS.join(', ')} (got "${quant}")`);
  const blockSize = num(v, 'block-size', { int: true });
  if (blockSize !== undefined && blockSize !== 32 && blockSize !== 128) throw new UsageError(`--block-size must be 32 or 128 (got ${blockSize})`);
  const cacheDir = str(v, 'cache-dir');
  const adapters = [v.adapter ?? []].flat().filter((d): d is string => typeof d === 'string');
  return createLocalBackend({
    modelDir: resolve(str(v, 'model') ?? defaultModelDir()),
    quant,
    blockSize,
    cacheDir: cacheDir ? resolve(cacheDir) : undefined,
    threads: num(v, 'threads', { int: true, min: 1 }),
    adapters: adapters.length ? adapters.map((d) => resolve(d)) : undefined,
    maxBatch: extra.maxBatch,
  });
}

/**
 * --model as a folder: a path as given, or a Hub id (ORG/NAME[@REVISION]) resolved from the Hugging Face
 * cache or, when it is not there, downloaded into it after saying what and how big (engine/hub/).
 * `files`: a command that needs only some files (the tokenizer's) finds and downloads only those.
 */
export async function resolveModelArg(v: ArgValues, signal?: AbortSignal, files?: FileSelection): Promise<string> {
  const model = str(v, 'model');
  if (model === undefined) return resolve(defaultModelDir());
  const { resolveModelRef } = await import('../hub/resolve');
  const { formatBytes, stderrReporter } = await import('../hub/progress');
  const reporter = stderrReporter('download');
  try {
    return await resolveModelRef(model, {
      signal,
      files,
      onProgress: reporter.update,
      confirm: (plan) => {
        process.stderr.write(
          `neox: ${plan.repo}@${plan.revision} is not in the Hugging Face cache; downloading ${plan.files.length} files, ` +
            `${formatBytes(plan.downloadBytes)} into ${plan.repoDir} (commit ${plan.commit.slice(0, 12)})\n`,
        );
        return true;
      },
    });
  } finally {
    reporter.end();
  }
}

export async function loadBackend(v: ArgValues, extra: { maxBatch?: number; signal?: AbortSignal } = {}): Promise<LocalBackend> {
  const modelDir = await resolveModelArg(v, extra.signal);
  if (statSync(modelDir, { throwIfNoEntry: false })?.isFile()) {
    const hint = basename(modelDir) === 'config.json' ? ` (here: --model ${dirname(modelDir)})` : '';
    throw new UsageError(`--model ${modelDir} is a file, not a folder: pass the checkpoint folder that holds config.json, tokenizer.json and the weights${hint}`);
  }
  const backend = backendFromArgs({ ...v, model: modelDir }, extra);
  await backend.load(stderrProgress());
  return backend;
}

/** Read a JSONL file into objects; errors name the file and line. */
export async function readJsonl(file: string): Promise<{ line: number; value: Record<string, unknown> }[]> {
  const { readFile } = await import('node:fs/promises');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new NeoxError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'bad_input');
  }
  const out: { line: number; value: Record<string, unknown> }[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw new NeoxError(`${file}:${i + 1}: not valid JSON (${(e as Error).message})`, 'bad_input');
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new NeoxError(`${file}:${i + 1}: expected a JSON object`, 'bad_input');
    out.push({ line: i + 1, value: value as Record<string, unknown> });
  });
  return out;
}

/** Write to stdout and wait until it is flushed (pipes are asynchronous). */
export function writeOut(text: string): Promise<void> {
  return new Promise((res) => {
    if (process.stdout.write(text)) res();
    else process.stdout.once('drain', () => res());
  });
}
