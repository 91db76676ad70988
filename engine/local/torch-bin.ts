/**
 * Reads PyTorch checkpoints (`pytorch_model.bin`, or shards listed in `pytorch_model.bin.index.json`)
 * written by `torch.save(model.state_dict())` in its zip format (PyTorch 1.6 and later), tensor by
 * tensor like safetensors.ts, without running pickle code: data.pkl goes through the restricted
 * reader of pickle.ts, which knows only collections.OrderedDict, torch._utils._rebuild_tensor_v2 and
 * the torch.*Storage classes (as inert type tags), and refuses any other global before anything runs.
 * Each tensor becomes a byte range of its storage record (data/<key>, stored uncompressed in the zip),
 * so tensors that share a storage, storage offsets and the state dict's `_metadata` are handled, and
 * every header is validated when the checkpoint is opened.
 */
import { existsSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { NeoxError } from '../types';
import { loadPickle, PickleError, PyGlobal, type PickleHooks, type PyValue } from './pickle';
import { DTYPE_BYTES, isSkippedTensor, ShardedCheckpoint, shardFiles, type DType, type TensorEntry } from './sharded-checkpoint';
import { readZipDirectory, readZipEntry, type ZipEntry } from './zip';

export const TORCH_BIN = 'pytorch_model.bin';
export const TORCH_BIN_INDEX = 'pytorch_model.bin.index.json';

/** torch.<Kind>Storage -> element type and size. Only F16/BF16/F32 tensors can be converted; the
 * others are accepted as tags so that the buffers old checkpoints carry (attention.bias is a bool
 * mask) can be skipped like in safetensors.ts. */
const STORAGES: Record<string, { dtype: DType | string; bytes: number }> = {
  HalfStorage: { dtype: 'F16', bytes: 2 },
  BFloat16Storage: { dtype: 'BF16', bytes: 2 },
  FloatStorage: { dtype: 'F32', bytes: 4 },
  DoubleStorage: { dtype: 'F64', bytes: 8 },
  BoolStorage: { dtype: 'BOOL', bytes: 1 },
  ByteStorage: { dtype: 'U8', bytes: 1 },
  CharStorage: { dtype: 'I8', bytes: 1 },
  ShortStorage: { dtype: 'I16', bytes: 2 },
  IntStorage: { dtype: 'I32', bytes: 4 },
  LongStorage: { dtype: 'I64', bytes: 8 },
};

/** The only globals a state dict's pickle may name. */
const ALLOWED_GLOBALS = new Set(['collections.OrderedDict', 'torch._utils._rebuild_tensor_v2', ...Object.keys(STORAGES).map((s) => `torch.${s}`)]);

interface Storage {
  key: string;
  kind: string;
  numel: number;
}

interface TensorRef {
  storage: Storage;
  offset: number;
  shape: number[];
  stride: number[];
}

/** Whether `modelDir` holds a PyTorch checkpoint (pytorch_model.bin or its index). */
export function hasTorchBin(modelDir: string): boolean {
  return existsSync(join(modelDir, TORCH_BIN_INDEX)) || existsSync(join(modelDir, TORCH_BIN));
}

/** The checkpoint's files: [index, ...shards] or [pytorch_model.bin]. */
export function torchBinFiles(modelDir: string): string[] {
  const files = shardFiles(modelDir, TORCH_BIN_INDEX, TORCH_BIN);
  if (files) return files;
  throw new NeoxError(`No weights in ${modelDir}: expected ${TORCH_BIN} or ${TORCH_BIN_INDEX}`, 'checkpoint_missing');
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isIntTuple = (v: unknown): v is number[] => Array.isArray(v) && v.every(isInt);

/** The pickle policy of a torch.save state dict; `file` names the checkpoint in errors. */
function stateDictHooks(file: string): PickleHooks {
  const storages = new Map<string, Storage>();
  const bad = (why: string): never => {
    throw new NeoxError(`${file}: not a plain state dict: ${why}`, 'checkpoint_corrupt');
  };
  return {
    allowGlobal: (module, name) => ALLOWED_GLOBALS.has(`${module}.${name}`),
    call(fn, args) {
      if (fn.qualified === 'collections.OrderedDict') {
        if (args.length !== 0) bad('OrderedDict called with arguments');
        return new Map();
      }
      if (fn.qualified === 'torch._utils._rebuild_tensor_v2') {
        // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        const [storage, offset, size, stride] = args;
        if (args.length < 6 || args.length > 7) bad(`_rebuild_tensor_v2 called with ${args.length} arguments`);
        if (!storages.has((storage as Storage | undefined)?.key ?? '') || storages.get((storage as Storage).key) !== storage) {
          bad('_rebuild_tensor_v2 without a storage');
        }
        if (!isInt(offset) || !isIntTuple(size) || !isIntTuple(stride) || size.length !== stride.length) {
          bad('_rebuild_tensor_v2 with a malformed offset, size or stride');
        }
        if (!(args[5] instanceof Map) || args[5].size) bad('a tensor with backward hooks');
        return { storage: storage as Storage, offset: offset as number, shape: [...(size as number[])], stride: [...(stride as number[])] } satisfies TensorRef;
      }
      return bad(`${fn.qualified} cannot be called`);
    },
    build(obj, state) {
      // OrderedDict's instance attributes: the state dict's `_metadata` (module versions), ignored.
      if (!(obj instanceof Map) || !(state instanceof Map) || [...state.keys()].some((k) => k !== '_metadata')) {
        bad('BUILD on something other than the state dict\'s _metadata');
      }
    },
    persistentLoad(pid: PyValue) {
      // ('storage', torch.<Kind>Storage, key, location, numel)
      const t = pid as unknown[];
      if (!Array.isArray(t) || t.length !== 5 || t[0] !== 'storage') bad('a persistent id other than a storage');
      const [, type, key, , numel] = t;
      if (!(type instanceof PyGlobal) || type.module !== 'torch' || !(type.name in STORAGES)) bad('a storage of unknown type');
      if (typeof key !== 'string' || !isInt(numel)) bad('a storage with a malformed key or size');
      const kind = (type as PyGlobal).name;
      const seen = storages.get(key as string);
      if (seen) {
        if (seen.kind !== kind || seen.numel !== numel) bad(`storage ${key} is declared twice with different types or sizes`);
        return seen;
      }
      const s: Storage = { key: key as string, kind, numel: numel as number };
      storages.set(s.key, s);
      return s;
    },
  };
}

/** Reads the state dict of one torch.save file: its tensor table (nothing of the tensor data). */
function parseTorchBin(file: string, fd: number, map: Map<string, TensorEntry>, wanted?: Set<string>): void {
  const head = Buffer.alloc(4);
  readSync(fd, head, 0, 4, 0);
  if (head[0] === 0x80 && head[1] >= 2) {
    throw new NeoxError(
      `${file} is in the legacy torch.save format (PyTorch before 1.6), which cannot be read tensor by tensor; re-save it with a recent PyTorch or convert it to safetensors`,
      'checkpoint_format',
    );
  }
  if (head.readUInt32LE(0) !== 0x04034b50) {
    throw new NeoxError(`${file} is truncated or corrupt: not a zip archive (torch.save's format)`, 'checkpoint_corrupt');
  }
  const records = readZipDirectory(file, fd);
  const pkls = [...records.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length !== 1) {
    throw new NeoxError(`${file} is truncated or corrupt: expected one <name>/data.pkl record, found ${pkls.length}`, 'checkpoint_corrupt');
  }
  const prefix = pkls[0].slice(0, -'data.pkl'.length);
  const byteorder = records.get(`${prefix}byteorder`);
  if (byteorder) {
    const order = readZipEntry(fd, byteorder).toString('latin1');
    if (order !== 'little') throw new NeoxError(`${file}: byte order "${order}" is not supported (only little-endian)`, 'checkpoint_format');
  }
  const pklEntry = records.get(pkls[0])!;
  if (pklEntry.size > 512 * 1024 * 1024) throw new NeoxError(`${file}: ${pkls[0]} is ${pklEntry.size} bytes, too large for a state dict`, 'checkpoint_corrupt');
  let dict: PyValue;
  try {
    dict = loadPickle(readZipEntry(fd, pklEntry), `${file} (${pkls[0]})`, stateDictHooks(file));
  } catch (e) {
    if (e instanceof PickleError) throw new NeoxError(e.message, 'checkpoint_unsafe');
    throw e;
  }
  if (!(dict instanceof Map)) throw new NeoxError(`${file}: the pickle is not a state dict (a dict of tensors)`, 'checkpoint_corrupt');

  for (const [name, value] of dict) {
    if (typeof name !== 'string') throw new NeoxError(`${file}: the state dict has a key that is not a string`, 'checkpoint_corrupt');
    if (isSkippedTensor(name)) continue;
    if (wanted && !wanted.has(name)) continue;
    const t = value as TensorRef;
    if (!t || typeof t !== 'object' || !('storage' in t)) throw new NeoxError(`${file}: ${name} is not a tensor`, 'checkpoint_corrupt');
    const kind = STORAGES[t.storage.kind];
    if (!(kind.dtype in DTYPE_BYTES)) {
      throw new NeoxError(`${file}: tensor ${name} has dtype ${kind.dtype} (torch.${t.storage.kind}); supported: F16, BF16, F32`, 'checkpoint_dtype');
    }
    // Contiguous (row-major) only; dimensions of size 1 may have any stride, as in torch.
    let expect = 1;
    for (let d = t.shape.length - 1; d >= 0; d--) {
      if (t.shape[d] !== 1 && t.stride[d] !== expect) {
        throw new NeoxError(
          `${file}: tensor ${name} is not contiguous (size [${t.shape}], stride [${t.stride}]); save it with .contiguous() or convert the checkpoint to safetensors`,
          'checkpoint_layout',
        );
      }
      expect *= t.shape[d];
    }
    const numel = expect;
    if (t.offset + numel > t.storage.numel) {
      throw new NeoxError(`${file} is truncated or corrupt: tensor ${name} (offset ${t.offset}, ${numel} elements) runs past its storage of ${t.storage.numel}`, 'checkpoint_corrupt');
    }
    const record = records.get(`${prefix}data/${t.storage.key}`);
    if (!record) throw new NeoxError(`${file} is truncated or corrupt: storage record ${prefix}data/${t.storage.key} of tensor ${name} is missing`, 'checkpoint_corrupt');
    if (record.size !== t.storage.numel * kind.bytes) {
      throw new NeoxError(
        `${file} is truncated or corrupt: storage record ${record.name} has ${record.size} bytes, expected ${t.storage.numel} x ${kind.bytes} (tensor ${name})`,
        'checkpoint_corrupt',
      );
    }
    const dtype = kind.dtype as DType;
    map.set(name, { file, dtype, shape: t.shape, start: record.dataStart + t.offset * kind.bytes, bytes: numel * kind.bytes });
  }
}

export class TorchBinCheckpoint extends ShardedCheckpoint {
  constructor(modelDir: string) {
    super(modelDir, torchBinFiles(modelDir), parseTorchBin);
  }
}
