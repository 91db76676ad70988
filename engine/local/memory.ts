/**
 * How much memory a GPT-NeoX checkpoint needs at each precision, from its config.json alone, and the
 * check that stops a build or load that would not fit (ensureModel, model-cache.ts) with a message
 * naming the need, the memory available and the precision that would fit.
 *
 * The estimate, per part (bytes):
 * - Linear weights of the transformer blocks (4·d² + 2·d·F per layer) at the precision: fp32 4 B,
 *   int8 1 + 4/INT8_BLOCK B (one byte + a float32 scale per block), int4 0.5 + 4/block B (0.625 at block
 *   32, 0.53 at 128). Biases and LayerNorms stay fp32.
 * - The output head (V·d): int8 under int8 and int4 (quant/policy.ts), fp32 under fp32.
 * - The input embedding table (V·d float32) is memory-mapped from model.data and only the rows looked
 *   up become resident: counted at EMBEDDING_RESIDENT of its size.
 * - The KV cache: float32 keys and values of every layer for one row at the context length (capped
 *   at KV_CONTEXT_TOKENS: a completion prompt is 1536 tokens by default; the cache grows on demand).
 * - Runtime: RUNTIME_BASE (Node, onnxruntime, tokenizer: 508-589 MB peak RSS with the 23M default
 *   model) + RUNTIME_FRACTION of the weights (onnxruntime's prepacked copies and arena: the 20B int4
 *   block-128 benchmark peaked at 12.85 GB RSS for 10.9 GB of weights, README "Performance").
 * - A first start converts before it loads: the conversion holds about one layer's float32 weights
 *   twice (read + quantized/transposed output), or the float32 head twice if that is larger; the 20B
 *   int4 conversion measured 4.1 GB peak RSS (this gives 4.1 GB). Calibrated int4 builds of small
 *   models add their activations and X^T X matrices.
 *
 * Available memory: MemAvailable of /proc/meminfo (Linux), lowered to the cgroup v2 limit's headroom
 * in a container, else os.freemem(). NEOX_ASSUME_FREE_MEMORY_MB (or the `freeBytes` option) replaces
 * the figure: for tests, and for anyone who knows better than the estimate.
 */
import { INT8_BLOCK } from './quant/int8';
import { readFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { NeoxError, QUANTIZATIONS, type Quantization } from '../types';
import type { NeoxConfig } from './config';

/** The config fields the estimate reads (NeoxConfig has them all). */
export type MemoryShape = Pick<NeoxConfig, 'hiddenSize' | 'numLayers' | 'intermediateSize' | 'vocabSize' | 'maxPositions' | 'tiedEmbeddings'>;

export interface PrecisionChoice {
  quant: Quantization;
  /** int4 block size (32 default, 128). */
  blockSize?: number;
  /** int4 builds small enough for GPTQ calibration (model-cache.ts isCalibrated). */
  calibrated?: boolean;
}

export const EMBEDDING_RESIDENT = 0.1;
export const KV_CONTEXT_TOKENS = 2048;
export const RUNTIME_BASE = 450e6;
export const RUNTIME_FRACTION = 0.12;
/** Kept free on top of the estimate: the estimate is not exact and the machine runs other things. */
export const MEMORY_MARGIN = 512 * 2 ** 20;
const CALIBRATION_TOKENS = 2048;

export interface MemoryEstimate {
  quant: Quantization;
  blockSize?: number;
  /** Learned parameters (as transformers counts them). */
  parameters: number;
  /** Linear weights at the precision (blocks + output head). */
  weightsBytes: number;
  /** The resident part of the memory-mapped float32 embedding table. */
  embeddingBytes: number;
  kvCacheBytes: number;
  contextTokens: number;
  runtimeBytes: number;
  /** Peak while loading and generating. */
  runBytes: number;
  /** Peak while converting the checkpoint (first start only). */
  buildBytes: number;
  /** What this start needs: max(build, run) when it converts, else run. */
  totalBytes: number;
}

/** Learned parameters of a GPT-NeoX checkpoint, as transformers counts them (biases and norms included). */
export function parameterCount(c: MemoryShape): number {
  const { hiddenSize: D, intermediateSize: F, vocabSize: V } = c;
  const layer = 4 * D * D + 4 * D + 2 * D * F + F + D + 4 * D;
  return V * D * (c.tiedEmbeddings ? 1 : 2) + c.numLayers * layer + 2 * D;
}

/** Bytes per weight of a linear layer stored at `quant` (int4: with a float32 scale per block). */
export function bytesPerWeight(quant: Quantization, blockSize = 32): number {
  if (quant === 'fp32') return 4;
  if (quant === 'int8') return 1 + 4 / INT8_BLOCK;
  return 0.5 + 4 / blockSize;
}

export function estimateMemory(c: MemoryShape, choice: PrecisionChoice, opts: { build?: boolean; contextTokens?: number } = {}): MemoryEstimate {
  const { hiddenSize: D, intermediateSize: F, vocabSize: V, numLayers: L } = c;
  const blockSize = choice.quant === 'int4' ? (choice.blockSize ?? 32) : undefined;
  const layerLinear = 4 * D * D + 2 * D * F;
  const layerSmall = 4 * D + F + D + 4 * D;
  const blocks = L * (layerLinear * bytesPerWeight(choice.quant, blockSize) + layerSmall * 4);
  const head = V * D * (choice.quant === 'fp32' ? 4 : bytesPerWeight('int8'));
  const weightsBytes = blocks + head;
  const embeddingBytes = V * D * 4 * EMBEDDING_RESIDENT;
  const contextTokens = Math.min(c.maxPositions, opts.contextTokens ?? KV_CONTEXT_TOKENS);
  const kvCacheBytes = 2 * L * contextTokens * D * 4;
  const runtimeBytes = RUNTIME_BASE + RUNTIME_FRACTION * weightsBytes;
  const runBytes = weightsBytes + embeddingBytes + kvCacheBytes + runtimeBytes;
  let buildBytes = RUNTIME_BASE + 2 * 4 * Math.max((layerLinear + layerSmall) * 1, V * D);
  if (choice.quant === 'int4' && choice.calibrated) {
    // The float32 forward pass over the calibration tokens and the per-linear X^T X (quant/calibrate.ts).
    buildBytes += CALIBRATION_TOKENS * (3 * D + F) * 4 * 2 + (D * D + F * F) * 8;
  }
  return {
    quant: choice.quant,
    ...(blockSize !== undefined ? { blockSize } : {}),
    parameters: parameterCount(c),
    weightsBytes,
    embeddingBytes,
    kvCacheBytes,
    contextTokens,
    runtimeBytes,
    runBytes,
    buildBytes,
    totalBytes: opts.build === false ? runBytes : Math.max(runBytes, buildBytes),
  };
}

export interface AvailableMemory {
  bytes: number;
  /** Where the figure comes from, for messages. */
  source: 'option' | 'NEOX_ASSUME_FREE_MEMORY_MB' | 'MemAvailable' | 'cgroup' | 'os.freemem';
}

/**
 * Memory available for a model: `assumeBytes` if given, else NEOX_ASSUME_FREE_MEMORY_MB (decimal MB),
 * else /proc/meminfo's MemAvailable (free + reclaimable page cache), lowered to the cgroup v2 limit's
 * headroom in a container, else os.freemem().
 */
export function availableMemory(assumeBytes?: number, env: NodeJS.ProcessEnv = process.env): AvailableMemory {
  if (assumeBytes !== undefined) return { bytes: assumeBytes, source: 'option' };
  const assumed = env.NEOX_ASSUME_FREE_MEMORY_MB?.trim();
  if (assumed) {
    const mb = Number(assumed);
    if (!Number.isFinite(mb) || mb < 0) throw new NeoxError(`NEOX_ASSUME_FREE_MEMORY_MB must be a number of megabytes (got "${assumed}")`, 'bad_setting');
    return { bytes: mb * 1e6, source: 'NEOX_ASSUME_FREE_MEMORY_MB' };
  }
  let found: AvailableMemory | undefined;
  try {
    const m = /^MemAvailable:\s+(\d+)\s*kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) found = { bytes: Number(m[1]) * 1024, source: 'MemAvailable' };
  } catch {
    // not Linux
  }
  found ??= { bytes: freemem(), source: 'os.freemem' };
  const headroom = cgroupHeadroom();
  if (headroom !== undefined && headroom < found.bytes) found = { bytes: headroom, source: 'cgroup' };
  return found;
}

/** cgroup v2: memory.max minus memory.current of this process's group, if it has a limit. */
function cgroupHeadroom(): number | undefined {
  try {
    const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'));
    if (!line) return undefined;
    const dir = `/sys/fs/cgroup${line.slice(3).trim()}`.replace(/\/$/, '');
    const max = readFileSync(`${dir}/memory.max`, 'utf8').trim();
    if (max === 'max') return undefined;
    const current = Number(readFileSync(`${dir}/memory.current`, 'utf8').trim());
    const limit = Number(max);
    if (!Number.isFinite(limit) || !Number.isFinite(current)) return undefined;
    return Math.max(0, limit - current);
  } catch {
    return undefined;
  }
}

/** Whether `needBytes` fits into `freeBytes`, keeping MEMORY_MARGIN free. */
export function fitsIn(needBytes: number, freeBytes: number): boolean {
  return needBytes + MEMORY_MARGIN <= freeBytes;
}

/** "124 GB", "18.5 GB", "0.6 GB", "45 MB": decimal units, as the README's figures. */
export function formatMemory(bytes: number): string {
  if (bytes >= 100e9) return `${Math.round(bytes / 1e9)} GB`;
  if (bytes >= 0.1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  return `${Math.max(1, Math.round(bytes / 1e6))} MB`;
}

/** The precisions tried, most precise first, when the requested one does not fit. */
const FALLBACKS: PrecisionChoice[] = [{ quant: 'fp32' }, { quant: 'int8' }, { quant: 'int4', blockSize: 32 }, { quant: 'int4', blockSize: 128 }];

function precisionLabel(p: PrecisionChoice): string {
  return p.quant === 'int4' && (p.blockSize ?? 32) !== 32 ? `int4 (block size ${p.blockSize})` : p.quant;
}

function precisionFlags(p: PrecisionChoice): string {
  return p.quant === 'int4' && (p.blockSize ?? 32) !== 32 ? `--quant int4 --block-size ${p.blockSize}` : `--quant ${p.quant}`;
}

export interface MemoryCheckOptions {
  /** Replaces the available-memory figure (tests; NEOX_ASSUME_FREE_MEMORY_MB does the same). */
  freeBytes?: number;
  /** Whether this start converts the checkpoint first (default true: the larger need). */
  build?: boolean;
  contextTokens?: number;
  /** How the message names the model (default "the model"). */
  name?: string;
}

/**
 * Throws NeoxError 'memory_insufficient' when the estimate for `choice` does not fit the available
 * memory; the message names the need, the memory available and the most precise precision that
 * would fit (or says that none does). Returns the estimate otherwise.
 */
export function checkMemory(c: MemoryShape, choice: PrecisionChoice, opts: MemoryCheckOptions = {}): MemoryEstimate {
  const est = estimateMemory(c, choice, opts);
  const free = availableMemory(opts.freeBytes);
  if (fitsIn(est.totalBytes, free.bytes)) return est;
  const name = opts.name ?? 'the model';
  const phase = opts.build === false ? 'to load' : est.buildBytes > est.runBytes ? 'to convert' : 'to convert and load';
  const parts = `weights ${formatMemory(est.weightsBytes + est.embeddingBytes)}, KV cache ${formatMemory(est.kvCacheBytes)} at ${est.contextTokens} tokens, runtime ${formatMemory(est.runtimeBytes)}`;
  const have = `${formatMemory(free.bytes)} is available (${free.source === 'option' ? 'as given' : free.source})`;
  const current = FALLBACKS.findIndex((p) => p.quant === choice.quant && (p.quant !== 'int4' || (p.blockSize ?? 32) === (choice.blockSize ?? 32)));
  const smaller = FALLBACKS.slice(current + 1).map((p) => ({ p, est: estimateMemory(c, { ...p, calibrated: choice.calibrated && p.quant === 'int4' }, opts) }));
  const fit = smaller.find((s) => fitsIn(s.est.totalBytes, free.bytes));
  const smallest = smaller.at(-1);
  const advice = fit
    ? `At ${precisionLabel(fit.p)} it would fit (about ${formatMemory(fit.est.totalBytes)}): use ${precisionFlags(fit.p)} (setting neoxComplete.quantization)`
    : `No precision fits${smallest ? `: even ${precisionLabel(smallest.p)} needs about ${formatMemory(smallest.est.totalBytes)}` : ''}; use a smaller model or a machine with more memory`;
  throw new NeoxError(
    `${name} at ${precisionLabel(choice)} needs about ${formatMemory(est.totalBytes)} of memory ${phase} (${parts}); ${have}, keeping ${formatMemory(MEMORY_MARGIN)} free. ` +
      `${advice}. (NEOX_ASSUME_FREE_MEMORY_MB=N overrides the available figure.)`,
    'memory_insufficient',
  );
}

/** Estimates at fp32, int8 and int4 (block 32) for listings (the catalogue, `neox models`). */
export function estimatesByPrecision(c: MemoryShape, opts: { build?: boolean; contextTokens?: number } = {}): Record<Quantization, MemoryEstimate> {
  return Object.fromEntries(QUANTIZATIONS.map((q) => [q, estimateMemory(c, { quant: q }, opts)])) as Record<Quantization, MemoryEstimate>;
}
