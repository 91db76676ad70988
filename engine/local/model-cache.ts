/**
 * Built ONNX models are cached per checkpoint and build options in a user cache folder, so only the
 * first start converts. A build is written into a temporary folder and renamed into place in one
 * step: a failed or interrupted conversion never leaves a half-written model behind.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { NeoxError, type LoadProgress } from '../types';
import type { LoadOptions } from './runner';
import { readConfig, type NeoxConfig } from './config';
import { checkpointFiles, openCheckpoint } from './checkpoint';
import { adapterIdentity, withAdapters } from './lora';
import { buildNeoxGraph } from './onnx/neox-graph';
import type { WeightSource } from './weights';
import { tokenizerFromJson } from './tokenizer';
import { readFileSync } from 'node:fs';
import { CALIBRATION_TEXT } from './quant/calibration-text';
import { CALIBRATION_MAX_COST, calibrationCost } from './quant/calibrate';
import { checkMemory } from './memory';

/**
 * Bump when the graph or weight format changes, so old cached builds are not reused.
 */
const BUILDER_VERSION = 7;

/** Calibration tokens for int4 GPTQ and the sequence length they are cut into (quant/calibrate.ts). */
export const CALIBRATION_TOKENS = 2048;
const CALIBRATION_SEQUENCE = 256;

/**
 * Whether an int4 build of a checkpoint with this config is GPTQ-calibrated: int4 with the scale
 * search, and a model small enough for the JS calibration pass (calibrationCost).
 */
export function isCalibrated(config: NeoxConfig, opts: Pick<LoadOptions, 'quant' | 'int4Scales'>): boolean {
  return opts.quant === 'int4' && opts.int4Scales !== 'rtn' && calibrationCost(config, CALIBRATION_TOKENS) <= CALIBRATION_MAX_COST;
}

/**
 * Calibration sequences for an int4 build of the checkpoint in `modelDir`: CALIBRATION_TEXT in its
 * own tokenizer. None for fp32/int8, for plain rounding ('rtn', the baseline) and for models too
 * large to calibrate (isCalibrated).
 */
export function calibrationFor(modelDir: string, opts: Pick<LoadOptions, 'quant' | 'int4Scales'>): number[][] | undefined {
  if (!isCalibrated(readConfig(modelDir), opts)) return undefined;
  const file = join(modelDir, 'tokenizer.json');
  let ids: number[];
  try {
    const tok = tokenizerFromJson(file, JSON.parse(readFileSync(file, 'utf8')) as object);
    ids = tok.encode(CALIBRATION_TEXT, { add_special_tokens: false }).ids.slice(0, CALIBRATION_TOKENS);
  } catch (e) {
    throw new NeoxError(`${file}: cannot tokenize the int4 calibration text (${(e as Error).message})`, 'bad_tokenizer');
  }
  const seqs: number[][] = [];
  for (let i = 0; i < ids.length; i += CALIBRATION_SEQUENCE) seqs.push(ids.slice(i, i + CALIBRATION_SEQUENCE));
  return seqs;
}

export const ONNX_FILE = 'model.onnx';
export const DATA_FILE = 'model.data';

export function defaultCacheDir(): string {
  if (process.env.NEOX_CACHE_DIR) return process.env.NEOX_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'neox-complete');
}

export interface BuiltModel {
  /** Folder holding model.onnx + model.data. */
  dir: string;
  onnxFile: string;
  config: NeoxConfig;
  /** True when this call converted the checkpoint (cold start). */
  built: boolean;
}

function buildTag(opts: Pick<LoadOptions, 'quant' | 'blockSize' | 'int4Scales'>): string {
  if (opts.quant !== 'int4') return opts.quant;
  const scales = opts.int4Scales && opts.int4Scales !== 'search' ? `-${opts.int4Scales}` : '';
  return `int4-b${opts.blockSize ?? 32}${scales}`;
}

/** Cache folder for a checkpoint: its files' identity (path, size, mtime) + LoRA adapters + build options + builder version. */
export function modelCacheDir(opts: LoadOptions): string {
  const modelDir = resolve(opts.modelDir);
  const files = [join(modelDir, 'config.json'), ...checkpointFiles(modelDir)].map((f) => {
    const s = statSync(f);
    return [f, s.size, s.mtimeMs];
  });
  const calib = isCalibrated(readConfig(modelDir), opts) ? { calib: [CALIBRATION_TOKENS, CALIBRATION_SEQUENCE] } : {};
  // LoRA adapters (lora.ts), in order: their files' path, size and mtime. None: the key is as before.
  const adapters = opts.adapters?.length ? { adapters: adapterIdentity(opts.adapters) } : {};
  const key = JSON.stringify({ v: BUILDER_VERSION, files, tag: buildTag(opts), ...calib, ...adapters });
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 16);
  const safeName = basename(modelDir).replace(/[^A-Za-z0-9._-]/g, '_');
  return join(resolve(opts.cacheDir ?? defaultCacheDir()), `${safeName}-${buildTag(opts)}-${hash}`);
}

/**
 * Converts `source` into `finalDir` atomically (temp folder + rename). Exposed for benchmarks that
 * feed synthetic weights; `ensureModel` is the normal entry.
 */
export function buildInto(
  source: WeightSource,
  finalDir: string,
  opts: Pick<LoadOptions, 'quant' | 'blockSize' | 'int4Scales'>,
  onProgress?: (p: LoadProgress) => void,
  calibration?: number[][],
): void {
  const parent = join(finalDir, '..');
  try {
    mkdirSync(parent, { recursive: true });
  } catch (e) {
    throw new NeoxError(`Cannot create the model cache folder ${parent}: ${(e as Error).message}`, 'cache_unwritable');
  }
  removeStaleTemps(parent);
  const tmp = join(parent, `.tmp-${basename(finalDir)}-${process.pid}-${Date.now().toString(36)}`);
  mkdirSync(tmp);
  try {
    buildNeoxGraph(source, join(tmp, DATA_FILE), join(tmp, ONNX_FILE), { quant: opts.quant, blockSize: opts.blockSize, int4Scales: opts.int4Scales, calibration }, onProgress);
    const calibrationTokens = calibration?.reduce((n, s) => n + s.length, 0) ?? 0;
    writeFileSync(join(tmp, 'build.json'), JSON.stringify({ builder: BUILDER_VERSION, ...opts, calibrationTokens, config: source.config }, null, 2));
    try {
      renameSync(tmp, finalDir);
    } catch (e) {
      // Another process finished the same build first: keep theirs.
      if (!existsSync(join(finalDir, ONNX_FILE))) throw e;
      rmSync(tmp, { recursive: true, force: true });
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Whether a finished build for `opts` is in the cache (ensureModel will not convert). */
export function isModelCached(opts: LoadOptions): boolean {
  return isBuilt(modelCacheDir(opts));
}

function isBuilt(dir: string): boolean {
  return existsSync(join(dir, ONNX_FILE)) && existsSync(join(dir, DATA_FILE));
}

/** Returns the cached build for `opts`, converting the checkpoint first when there is none. */
export function ensureModel(opts: LoadOptions, onProgress?: (p: LoadProgress) => void): BuiltModel {
  onProgress?.({ stage: 'read-config', message: `Reading ${opts.modelDir}` });
  const config = readConfig(opts.modelDir);
  const dir = modelCacheDir(opts);
  const onnxFile = join(dir, ONNX_FILE);
  const built = isBuilt(dir);
  // Stops here, naming the need, the memory available and a precision that fits, rather than part-way (memory.ts).
  checkMemory(config, { quant: opts.quant, blockSize: opts.blockSize, calibrated: isCalibrated(config, opts) }, { build: !built, name: opts.modelDir });
  if (built) return { dir, onnxFile, config, built: false };
  onProgress?.({ stage: 'convert', message: `Converting ${opts.modelDir} (${buildTag(opts)}${opts.adapters?.length ? ` + LoRA ${opts.adapters.join(', ')}` : ''}) into ${dir}`, fraction: 0 });
  const source = withAdapters(opts.adapters, config, () => openCheckpoint(opts.modelDir));
  try {
    buildInto(source, dir, opts, onProgress, calibrationFor(opts.modelDir, opts));
  } finally {
    source.close();
  }
  return { dir, onnxFile, config, built: true };
}

// Temp folders of builds that crashed (process killed) more than an hour ago.
function removeStaleTemps(parent: string): void {
  try {
    for (const name of readdirSync(parent)) {
      if (!name.startsWith('.tmp-')) continue;
      const p = join(parent, name);
      if (Date.now() - statSync(p).mtimeMs > 3600_000) rmSync(p, { recursive: true, force: true });
    }
  } catch {
    /* best effort */
  }
}
