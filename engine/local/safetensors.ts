/**
 * Reads Hugging Face safetensors checkpoints (one model.safetensors, or shards listed in
 * model.safetensors.index.json) tensor by tensor with positioned reads: nothing is mapped or
 * loaded whole. Every header is validated when the checkpoint is opened so a truncated or
 * corrupt file fails before any conversion work, with a message naming the file and tensor.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { NeoxError } from '../types';
import { readConfig, type NeoxConfig } from './config';
import type { WeightSource } from './weights';

type DType = 'F16' | 'BF16' | 'F32';
const DTYPE_BYTES: Record<DType, number> = { F16: 2, BF16: 2, F32: 4 };

interface TensorEntry {
  file: string;
  dtype: DType;
  shape: number[];
  /** Absolute byte offset in the file. */
  start: number;
  bytes: number;
}

// Buffers old GPT-NeoX checkpoints carry that are recomputed, not learned.
const SKIPPED = [/\.attention\.bias$/, /\.attention\.masked_bias$/, /\.rotary_emb\.inv_freq$/];
export const isSkippedTensor = (name: string) => SKIPPED.some((r) => r.test(name));

const MAX_HEADER = 100 * 1024 * 1024;

/** Lists the checkpoint's weight files (for the model cache key and for opening). */
export function checkpointFiles(modelDir: string): string[] {
  const index = join(modelDir, 'model.safetensors.index.json');
  if (existsSync(index)) {
    let map: Record<string, string>;
    try {
      map = JSON.parse(readFileSync(index, 'utf8')).weight_map;
    } catch (e) {
      throw new NeoxError(`${index} is not valid JSON: ${(e as Error).message}`, 'checkpoint_invalid');
    }
    if (!map || typeof map !== 'object') throw new NeoxError(`${index}: field "weight_map" is missing`, 'checkpoint_invalid');
    const shards = [...new Set(Object.values(map))].sort();
    for (const s of shards) {
      if (!existsSync(join(modelDir, s))) {
        throw new NeoxError(`Missing shard ${join(modelDir, s)} (listed in ${index})`, 'checkpoint_missing_shard');
      }
    }
    return [index, ...shards.map((s) => join(modelDir, s))];
  }
  const single = join(modelDir, 'model.safetensors');
  if (existsSync(single)) return [single];
  throw new NeoxError(
    `No weights in ${modelDir}: expected model.safetensors or model.safetensors.index.json (only safetensors checkpoints are supported)`,
    'checkpoint_missing',
  );
}

function parseHeader(file: string, fd: number, map: Map<string, TensorEntry>, wanted?: Set<string>) {
  const size = fstatSync(fd).size;
  const corrupt = (why: string): never => {
    throw new NeoxError(`${file} is truncated or corrupt: ${why}`, 'checkpoint_corrupt');
  };
  if (size < 8) corrupt(`${size} bytes, too short for a safetensors header`);
  const lenBuf = Buffer.alloc(8);
  readSync(fd, lenBuf, 0, 8, 0);
  const headerLen = Number(lenBuf.readBigUInt64LE(0));
  if (headerLen > MAX_HEADER || 8 + headerLen > size) corrupt(`header length ${headerLen} exceeds the file size ${size}`);
  const hb = Buffer.alloc(headerLen);
  readSync(fd, hb, 0, headerLen, 8);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(hb.toString('utf8'));
  } catch {
    return corrupt('the header is not valid JSON');
  }
  const dataStart = 8 + headerLen;
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__' || isSkippedTensor(name)) continue;
    if (wanted && !wanted.has(name)) continue;
    const where = `tensor ${name}`;
    if (!t || !Array.isArray(t.shape) || !Array.isArray(t.data_offsets)) corrupt(`${where} has no shape/data_offsets`);
    if (!(t.dtype in DTYPE_BYTES)) {
      throw new NeoxError(`${file}: tensor ${name} has dtype ${t.dtype}; supported: F16, BF16, F32`, 'checkpoint_dtype');
    }
    const dtype = t.dtype as DType;
    const [b, e] = t.data_offsets;
    const count = t.shape.reduce((a, d) => a * d, 1);
    if (e - b !== count * DTYPE_BYTES[dtype]) corrupt(`${where}: data_offsets [${b}, ${e}] do not match shape [${t.shape}] ${dtype}`);
    if (dataStart + e > size) corrupt(`${where} ends at byte ${dataStart + e}, beyond the end of the file (${size} bytes)`);
    map.set(name, { file, dtype, shape: t.shape, start: dataStart + b, bytes: e - b });
  }
}

// float16 -> float32 through a 65536-entry table: fast and exact.
let halfTable: Float32Array | undefined;
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

export class SafetensorsCheckpoint implements WeightSource {
  readonly config: NeoxConfig;
  private readonly entries = new Map<string, TensorEntry>();
  private readonly fds = new Map<string, number>();

  constructor(readonly modelDir: string) {
    this.config = readConfig(modelDir);
    const files = checkpointFiles(modelDir);
    const indexFile = files[0].endsWith('.index.json') ? files.shift() : undefined;
    let wantedByFile: Map<string, Set<string>> | undefined;
    if (indexFile) {
      wantedByFile = new Map();
      const map: Record<string, string> = JSON.parse(readFileSync(indexFile, 'utf8')).weight_map;
      for (const [name, shard] of Object.entries(map)) {
        const f = join(modelDir, shard);
        if (!wantedByFile.has(f)) wantedByFile.set(f, new Set());
        wantedByFile.get(f)!.add(name);
      }
    }
    try {
      for (const f of files) {
        const fd = openSync(f, 'r');
        this.fds.set(f, fd);
        parseHeader(f, fd, this.entries, wantedByFile?.get(f));
      }
      if (wantedByFile) {
        for (const [f, set] of wantedByFile) {
          for (const n of set) {
            if (!isSkippedTensor(n) && !this.entries.has(n)) {
              throw new NeoxError(`${f}: tensor ${n} (listed in ${indexFile}) is not in the file`, 'checkpoint_corrupt');
            }
          }
        }
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  tensor(name: string, shape: number[]): Float32Array {
    const t = this.entries.get(name);
    if (!t) {
      throw new NeoxError(`Tensor ${name} is missing from the checkpoint in ${this.modelDir}`, 'checkpoint_missing_tensor');
    }
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new NeoxError(
        `${t.file}: tensor ${name} has shape [${t.shape}], expected [${shape}] from config.json`,
        'checkpoint_shape',
      );
    }
    const raw = Buffer.allocUnsafe(t.bytes);
    const fd = this.fds.get(t.file)!;
    for (let done = 0; done < t.bytes; ) {
      const n = readSync(fd, raw, done, Math.min(t.bytes - done, 1 << 30), t.start + done);
      if (n <= 0) throw new NeoxError(`${t.file}: tensor ${name} could not be read (file truncated?)`, 'checkpoint_corrupt');
      done += n;
    }
    const count = t.bytes / DTYPE_BYTES[t.dtype];
    const out = new Float32Array(count);
    if (t.dtype === 'F32') {
      new Uint8Array(out.buffer).set(raw);
    } else {
      // Buffer.allocUnsafe may hand out an unaligned slice of the pool: copy into an aligned view.
      const u16 = raw.byteOffset % 2 === 0 ? new Uint16Array(raw.buffer, raw.byteOffset, count) : new Uint16Array(new Uint8Array(raw).buffer);
      if (t.dtype === 'F16') {
        const table = f16Table();
        for (let i = 0; i < count; i++) out[i] = table[u16[i]];
      } else {
        const u32 = new Uint32Array(out.buffer);
        for (let i = 0; i < count; i++) u32[i] = u16[i] << 16;
      }
    }
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
