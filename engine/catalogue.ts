/**
 * The curated catalogue of GPT-NeoX-family models (catalogue.json: data, one entry per Hub repository)
 * and its listing for this machine: memory needed at each precision (local/memory.ts), whether it fits
 * the memory available, and whether the model is already in the Hugging Face cache (hub/cache.ts, no
 * network). Used by `neox models` and the language server's neox/listModels (the model picker).
 */
import { QUANTIZATIONS, type Quantization } from './types';
import { availableMemory, estimatesByPrecision, fitsIn, parameterCount, type AvailableMemory, type MemoryShape } from './local/memory';
import { findCachedSnapshot, hubCacheDir } from './hub/cache';
import CATALOGUE from './catalogue.json';

export interface CatalogueModel {
  /** Hub id, ORG/NAME. */
  repo: string;
  name: string;
  family: string;
  kind: 'base' | 'chat' | 'instruct' | 'code';
  parameters: number;
  /** Where `parameters` comes from: a publication or model card, or 'computed' from the architecture. */
  parametersSource: string;
  hiddenSize: number;
  layers: number;
  heads: number;
  vocabSize: number;
  intermediateSize: number;
  contextLength: number;
  /** The weight files the repository publishes. */
  weights: 'safetensors' | 'bin';
  dtype: 'float16' | 'bfloat16' | 'float32';
  /** Bytes to download (the weights; config and tokenizer files are small). */
  downloadBytes: number;
  downloadSource: string;
  note?: string;
}

export interface CatalogueListing extends CatalogueModel {
  /** Estimated memory for the first start (conversion, then load and generation) at each precision (int4: block 32). */
  memoryBytes: Record<Quantization, number>;
  fits: Record<Quantization, boolean>;
  /** The snapshot folder when the model is already in the Hugging Face cache. */
  cachedDir?: string;
}

export interface CatalogueResult {
  /** Memory available on this machine and where the figure comes from. */
  free: AvailableMemory;
  /** Tokens of KV cache the estimates include. */
  contextTokens: number;
  /** The Hugging Face cache searched for `cachedDir`. */
  hubCache: string;
  models: CatalogueListing[];
}

export function catalogue(): CatalogueModel[] {
  return (CATALOGUE as { models: CatalogueModel[] }).models.map((m) => ({ ...m }));
}

/** The fields of a catalogue entry the memory estimate reads (as config.json would give them). */
export function catalogueShape(m: CatalogueModel): MemoryShape {
  return { hiddenSize: m.hiddenSize, numLayers: m.layers, intermediateSize: m.intermediateSize, vocabSize: m.vocabSize, maxPositions: m.contextLength, tiedEmbeddings: false };
}

/** Parameters computed from the architecture (transformers' count). */
export function computedParameters(m: CatalogueModel): number {
  return parameterCount(catalogueShape(m));
}

export interface ListCatalogueOptions {
  /** Replaces the available-memory figure (tests; NEOX_ASSUME_FREE_MEMORY_MB does the same). */
  freeBytes?: number;
  /** The Hugging Face cache to look in (default HF_HUB_CACHE / HF_HOME/hub / ~/.cache/huggingface/hub). */
  hubCache?: string;
}

/** The catalogue with each model's memory needs, whether they fit here, and whether it is cached. */
export function listCatalogue(opts: ListCatalogueOptions = {}): CatalogueResult {
  const free = availableMemory(opts.freeBytes);
  const hubCache = opts.hubCache ?? hubCacheDir();
  let contextTokens = 0;
  const models = catalogue().map((m): CatalogueListing => {
    const est = estimatesByPrecision(catalogueShape(m));
    contextTokens = est.int8.contextTokens;
    const memoryBytes = Object.fromEntries(QUANTIZATIONS.map((q) => [q, Math.round(est[q].totalBytes)])) as Record<Quantization, number>;
    const fits = Object.fromEntries(QUANTIZATIONS.map((q) => [q, fitsIn(memoryBytes[q], free.bytes)])) as Record<Quantization, boolean>;
    const cachedDir = findCachedSnapshot(m.repo, 'main', hubCache)?.dir;
    return { ...m, memoryBytes, fits, ...(cachedDir ? { cachedDir } : {}) };
  });
  return { free, contextTokens, hubCache, models };
}
