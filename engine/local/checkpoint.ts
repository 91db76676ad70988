/**
 * Which checkpoint format a model folder holds, and a WeightSource for it: safetensors
 * (model.safetensors or model.safetensors.index.json with its shards) when present, else PyTorch
 * (pytorch_model.bin or pytorch_model.bin.index.json with its shards, read by torch-bin.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NeoxError } from '../types';
import { checkpointFiles as safetensorsFiles, SafetensorsCheckpoint } from './safetensors';
import { hasTorchBin, TORCH_BIN, TORCH_BIN_INDEX, TorchBinCheckpoint, torchBinFiles } from './torch-bin';
import type { WeightSource } from './weights';

export type CheckpointFormat = 'safetensors' | 'torch-bin';

export function checkpointFormat(modelDir: string): CheckpointFormat {
  if (existsSync(join(modelDir, 'model.safetensors.index.json')) || existsSync(join(modelDir, 'model.safetensors'))) return 'safetensors';
  if (hasTorchBin(modelDir)) return 'torch-bin';
  throw new NeoxError(
    `No weights in ${modelDir}: expected model.safetensors, model.safetensors.index.json, ${TORCH_BIN} or ${TORCH_BIN_INDEX}`,
    'checkpoint_missing',
  );
}

/** The checkpoint's weight files (index first when sharded): for the model cache key and for opening. */
export function checkpointFiles(modelDir: string): string[] {
  return checkpointFormat(modelDir) === 'safetensors' ? safetensorsFiles(modelDir) : torchBinFiles(modelDir);
}

/** Opens the checkpoint in `modelDir`; every header is validated before this returns. */
export function openCheckpoint(modelDir: string): WeightSource {
  return checkpointFormat(modelDir) === 'safetensors' ? new SafetensorsCheckpoint(modelDir) : new TorchBinCheckpoint(modelDir);
}
