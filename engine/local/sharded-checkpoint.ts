/**
 * What the safetensors and PyTorch readers share: a checkpoint of one file or of shards listed in a
 * Hugging Face index (weight_map), every file's tensor table parsed when it is opened (so a corrupt
 * file fails before any conversion work), then tensors read one at a time with positioned reads
 * and widened to float32. Each format supplies only its file list and its table parser.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { NeoxError } from '../types';
import { readConfig, type NeoxConfig } from './config';
import type { WeightSource } from './weights';

export type DType = 'F16' | 'BF16' | 'F32';
export const DTYPE_BYTES: Record<DType, number> = { F16: 2, BF16: 2, F32: 4 };

export interface TensorEntry {
  file: string;
  dtype: DType;
  shape: number[];
  /** Absolute byte offset in the file. */
  start: number;
  bytes: number;
}

/** Parses one file's tensor table into `map`; `wanted`: the names the index assigns to this file. */
export type TableParser = (file: string, fd: number, map: Map<string, TensorEntry>, wanted?: Set<string>) => void;

// Buffers old GPT-NeoX checkpoints carry that are recomputed, not learned.
const SKIPPED = [/\.attention\.bias$/, /\.attention\.masked_bias$/, /\.rotary_emb\.inv_freq$/];
export const isSkippedTensor = (name: string) => SKIPPED.some((r) => r.test(name));

let halfTable: Float32Array | undefined;
/** float16 bit pattern -> float32 value. */
export function f16Table(): Float32Array {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    halfTable[h] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return halfTable;
}

/** An index file's weight_map: tensor name -> shard file name. */
export function readWeightMap(index: string): Record<string, string> {
  let map: unknown;
  try {
    map = JSON.parse(readFileSync(index, 'utf8')).weight_map;
  } catch (e) {
    throw new NeoxError(`${index} is not valid JSON: ${(e as Error).message}`, 'checkpoint_invalid');
  }
  if (!map || typeof map !== 'object') throw new NeoxError(`${index}: field "weight_map" is missing`, 'checkpoint_invalid');
  return map as Record<string, string>;
}

/** [index, ...shards] when `index` exists (every shard checked present), else [single], else undefined. */
export function shardFiles(modelDir: string, indexName: string, singleName: string): string[] | undefined {
  const index = join(modelDir, indexName);
  if (existsSync(index)) {
    const shards = [...new Set(Object.values(readWeightMap(index)))].sort();
    for (const s of shards) {
      if (!existsSync(join(modelDir, s))) {
        throw new NeoxError(`Missing shard ${join(modelDir, s)} (listed in ${index})`, 'checkpoint_missing_shard');
      }
    }
    return [index, ...shards.map((s) => join(modelDir, s))];
  }
  const single = join(modelDir, singleName);
  return existsSync(single) ? [single] : undefined;
}

export class ShardedCheckpoint implements WeightSource {
  readonly config: NeoxConfig;
  private readonly entries = new Map<string, TensorEntry>();
  private readonly fds = new Map<string, number>();

  /** `files`: as shardFiles returns them (an index first, if any). */
  constructor(
    readonly modelDir: string,
    files: string[],
    parse: TableParser,
  ) {
    this.config = readConfig(modelDir);
    const shards = [...files];
    const indexFile = shards[0]?.endsWith('.index.json') ? shards.shift() : undefined;
    const wantedByFile = indexFile ? namesByShard(modelDir, indexFile) : undefined;
    try {
      for (const f of shards) {
        const fd = openSync(f, 'r');
        this.fds.set(f, fd);
        parse(f, fd, this.entries, wantedByFile?.get(f));
      }
      for (const [f, set] of wantedByFile ?? []) {
        for (const n of set) {
          if (!isSkippedTensor(n) && !this.entries.has(n)) {
            throw new NeoxError(`${f}: tensor ${n} (listed in ${indexFile}) is not in the file`, 'checkpoint_corrupt');
          }
        }
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Names of the tensors the checkpoint provides (skipped buffers excluded). */
  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  tensor(name: string, shape: number[]): Float32Array {
    const t = this.entries.get(name);
    if (!t) throw new NeoxError(`Tensor ${name} is missing from the checkpoint in ${this.modelDir}`, 'checkpoint_missing_tensor');
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new NeoxError(`${t.file}: tensor ${name} has shape [${t.shape}], expected [${shape}] from config.json`, 'checkpoint_shape');
    }
    const count = t.bytes / DTYPE_BYTES[t.dtype];
    const out = new Float32Array(count);
    // Read straight into the output's memory: F32 in place, F16/BF16 into its upper half, widened
    // front to back (element i is read at byte 2*count + 2i before float i overwrites bytes 4i..4i+3).
    const raw = new Uint8Array(out.buffer, t.dtype === 'F32' ? 0 : 2 * count, t.bytes);
    const fd = this.fds.get(t.file)!;
    for (let done = 0; done < t.bytes; ) {
      const n = readSync(fd, raw, done, Math.min(t.bytes - done, 1 << 30), t.start + done);
      if (n <= 0) throw new NeoxError(`${t.file}: tensor ${name} could not be read (file truncated?)`, 'checkpoint_corrupt');
      done += n;
    }
    if (t.dtype !== 'F32') widen16(out, count, t.dtype);
    for (let i = 0; i < count; i++) {
      if (!Number.isFinite(out[i])) {
        throw new NeoxError(`${t.file}: tensor ${name} is corrupt (non-finite value at element ${i})`, 'checkpoint_corrupt');
      }
    }
    return out;
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}

function namesByShard(modelDir: string, indexFile: string): Map<string, Set<string>> {
  const byFile = new Map<string, Set<string>>();
  for (const [name, shard] of Object.entries(readWeightMap(indexFile))) {
    const f = join(modelDir, shard);
    if (!byFile.has(f)) byFile.set(f, new Set());
    byFile.get(f)!.add(name);
  }
  return byFile;
}

/** Widens the `count` 16-bit values stored in the upper half of `out` into float32, in place. */
function widen16(out: Float32Array, count: number, dtype: 'F16' | 'BF16'): void {
  const u16 = new Uint16Array(out.buffer, 2 * count, count);
  if (dtype === 'F16') {
    const table = f16Table();
    for (let i = 0; i < count; i++) out[i] = table[u16[i]];
  } else {
    const u32 = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) u32[i] = u16[i] << 16;
  }
}
