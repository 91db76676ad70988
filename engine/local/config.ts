/**
 * Reads a Hugging Face GPT-NeoX config.json into the handful of numbers the graph builder needs.
 * Accepts the classic field names (rotary_pct, rotary_emb_base: Pythia, GPT-NeoX-20B) and the
 * transformers-5 form (rope_parameters.partial_rotary_factor / rope_theta).
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { NeoxError } from '../types';

export type Activation = 'gelu' | 'gelu_fast';

export interface NeoxConfig {
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  headSize: number;
  intermediateSize: number;
  /** Rows of embed_in / columns of the logits (may exceed the tokenizer's vocabulary: padding). */
  vocabSize: number;
  maxPositions: number;
  /** Number of leading dims of each head that are rotated (even). */
  rotaryDims: number;
  rotaryBase: number;
  layerNormEps: number;
  parallelResidual: boolean;
  activation: Activation;
  tiedEmbeddings: boolean;
  eosTokenId: number;
  bosTokenId: number;
}

const SUPPORTED_ARCH = 'GPTNeoXForCausalLM';

// transformers maps several names to the same function; these are the ones GPT-NeoX checkpoints use.
const ACTIVATIONS: Record<string, Activation> = {
  gelu: 'gelu',
  gelu_fast: 'gelu_fast',
  gelu_new: 'gelu_fast',
  gelu_pytorch_tanh: 'gelu_fast',
};

export function readConfig(modelDir: string): NeoxConfig {
  const file = join(modelDir, 'config.json');
  if (!existsSync(modelDir)) throw new NeoxError(`Model folder ${modelDir} does not exist`, 'model_not_found');
  if (!existsSync(file)) {
    throw new NeoxError(`${file} not found: the model folder must be a Hugging Face GPT-NeoX checkpoint (config.json + *.safetensors)`, 'config_missing');
  }
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new NeoxError(`${file} is not valid JSON: ${(e as Error).message}`, 'config_invalid');
  }
  return parseConfig(raw, file);
}

export function parseConfig(raw: Record<string, unknown>, file = 'config.json'): NeoxConfig {
  const bad = (field: string, why: string): never => {
    throw new NeoxError(`${file}: field "${field}" ${why}`, 'config_invalid');
  };
  const archs = raw.architectures;
  if (archs !== undefined) {
    if (!Array.isArray(archs) || !archs.includes(SUPPORTED_ARCH)) {
      bad('architectures', `is ${JSON.stringify(archs)}; only ${SUPPORTED_ARCH} (GPT-NeoX family) is supported`);
    }
  } else if (raw.model_type !== 'gpt_neox') {
    bad('model_type', `is ${JSON.stringify(raw.model_type)}; only "gpt_neox" is supported`);
  }
  const int = (field: string, fallback?: number): number => {
    const v = raw[field] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) bad(field, `must be a positive integer (got ${JSON.stringify(v)})`);
    return v as number;
  };
  const num = (field: string, v: unknown): number => {
    if (typeof v !== 'number' || !Number.isFinite(v)) bad(field, `must be a number (got ${JSON.stringify(v)})`);
    return v as number;
  };
  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  if (hiddenSize % numHeads !== 0) bad('num_attention_heads', `(${numHeads}) must divide hidden_size (${hiddenSize})`);
  const headSize = hiddenSize / numHeads;

  const rope = (raw.rope_parameters ?? raw.rope_scaling) as Record<string, unknown> | undefined | null;
  if (rope && typeof rope === 'object' && rope.rope_type !== undefined && rope.rope_type !== 'default') {
    bad('rope_parameters.rope_type', `is ${JSON.stringify(rope.rope_type)}; only "default" rotary embeddings are supported`);
  }
  const pct = num(
    raw.rotary_pct !== undefined ? 'rotary_pct' : 'rope_parameters.partial_rotary_factor',
    raw.rotary_pct ?? rope?.partial_rotary_factor ?? raw.partial_rotary_factor ?? 1.0,
  );
  if (pct <= 0 || pct > 1) bad('rotary_pct', `must be in (0, 1] (got ${pct})`);
  const rotaryBase = num(
    raw.rotary_emb_base !== undefined ? 'rotary_emb_base' : 'rope_parameters.rope_theta',
    raw.rotary_emb_base ?? rope?.rope_theta ?? raw.rope_theta ?? 10000,
  );
  // transformers: rotary_ndims = int(head_size * rotary_pct)
  const rotaryDims = Math.floor(headSize * pct);
  if (rotaryDims % 2 !== 0) bad('rotary_pct', `gives an odd number of rotary dims (${rotaryDims}) for head size ${headSize}`);

  const act = raw.hidden_act ?? 'gelu';
  const activation = ACTIVATIONS[String(act)];
  if (!activation) bad('hidden_act', `is ${JSON.stringify(act)}; supported: ${Object.keys(ACTIVATIONS).join(', ')}`);

  const eps = num('layer_norm_eps', raw.layer_norm_eps ?? 1e-5);
  const parallel = raw.use_parallel_residual ?? true;
  if (typeof parallel !== 'boolean') bad('use_parallel_residual', 'must be true or false');
  const tied = raw.tie_word_embeddings ?? false;
  if (typeof tied !== 'boolean') bad('tie_word_embeddings', 'must be true or false');
  const firstId = (field: string, fallback: number): number => {
    const v = raw[field];
    if (Array.isArray(v) && typeof v[0] === 'number') return v[0];
    if (typeof v === 'number') return v;
    return fallback;
  };
  return {
    hiddenSize,
    numLayers: int('num_hidden_layers'),
    numHeads,
    headSize,
    intermediateSize: int('intermediate_size', 4 * hiddenSize),
    vocabSize: int('vocab_size'),
    maxPositions: int('max_position_embeddings', 2048),
    rotaryDims,
    rotaryBase,
    layerNormEps: eps,
    parallelResidual: parallel as boolean,
    activation: activation as Activation,
    tiedEmbeddings: tied as boolean,
    eosTokenId: firstId('eos_token_id', 0),
    bosTokenId: firstId('bos_token_id', 0),
  };
}
