/**
 * Reads Hugging Face safetensors checkpoints (one model.safetensors, or shards listed in
 * model.safetensors.index.json) tensor by tensor with positioned reads: nothing is mapped or
 * loaded whole. Every header is validated when the checkpoint is opened so a truncated or
 * corrupt file fails before any conversion work, with a message naming the file and tensor.
 */
import { fstatSync, readSync } from 'node:fs';
import { NeoxError } from '../types';
import { DTYPE_BYTES, isSkippedTensor, ShardedCheckpoint, shardFiles, type DType, type TensorEntry } from './sharded-checkpoint';

const MAX_HEADER = 100 * 1024 * 1024;

/** Lists the checkpoint's weight files (for the model cache key and for opening). */
export function checkpointFiles(modelDir: string): string[] {
  const files = shardFiles(modelDir, 'model.safetensors.index.json', 'model.safetensors');
  if (files) return files;
  throw new NeoxError(
    `No weights in ${modelDir}: expected model.safetensors or model.safetensors.index.json`,
    'checkpoint_missing',
  );
}

/** One tensor of a safetensors file: its place in the file (absolute byte offset) and type. */
export interface SafetensorsEntry {
  name: string;
  dtype: DType;
  shape: number[];
  start: number;
  bytes: number;
}

/**
 * Reads and checks the header of the safetensors file open as `fd`: the tensors `keep` accepts (the
 * others are not checked), each within the file. Errors name the file and tensor, with codes
 * `${kind}_corrupt` and `${kind}_dtype` (a checkpoint's or a LoRA adapter's file).
 */
export function readSafetensorsHeader(file: string, fd: number, kind: 'checkpoint' | 'adapter', keep: (name: string) => boolean = () => true): SafetensorsEntry[] {
  const size = fstatSync(fd).size;
  const corrupt = (why: string): never => {
    throw new NeoxError(`${file} is truncated or corrupt: ${why}`, `${kind}_corrupt`);
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
  const out: SafetensorsEntry[] = [];
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__' || !keep(name)) continue;
    const where = `tensor ${name}`;
    if (!t || !Array.isArray(t.shape) || !Array.isArray(t.data_offsets)) corrupt(`${where} has no shape/data_offsets`);
    if (!(t.dtype in DTYPE_BYTES)) {
      throw new NeoxError(`${file}: tensor ${name} has dtype ${t.dtype}; supported: F16, BF16, F32`, `${kind}_dtype`);
    }
    const dtype = t.dtype as DType;
    const [b, e] = t.data_offsets;
    const count = t.shape.reduce((a, d) => a * d, 1);
    if (e - b !== count * DTYPE_BYTES[dtype]) corrupt(`${where}: data_offsets [${b}, ${e}] do not match shape [${t.shape}] ${dtype}`);
    if (dataStart + e > size) corrupt(`${where} ends at byte ${dataStart + e}, beyond the end of the file (${size} bytes)`);
    out.push({ name, dtype, shape: t.shape, start: dataStart + b, bytes: e - b });
  }
  return out;
}

function parseHeader(file: string, fd: number, map: Map<string, TensorEntry>, wanted?: Set<string>) {
  const keep = (name: string) => !isSkippedTensor(name) && (!wanted || wanted.has(name));
  for (const { name, ...e } of readSafetensorsHeader(file, fd, 'checkpoint', keep)) map.set(name, { file, ...e });
}

export class SafetensorsCheckpoint extends ShardedCheckpoint {
  constructor(modelDir: string) {
    super(modelDir, checkpointFiles(modelDir), parseHeader);
  }
}
