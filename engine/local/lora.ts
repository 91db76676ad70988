/**
 * Hugging Face PEFT LoRA adapters, merged into the checkpoint's weights before quantization.
 *
 * An adapter folder holds adapter_config.json (peft_type "LORA", r, lora_alpha, target_modules,
 * fan_in_fan_out, use_rslora) and adapter_model.safetensors with, per adapted linear layer,
 * `base_model.model.gpt_neox.layers.{i}.{module}.lora_A.weight` [r, in] and `.lora_B.weight`
 * [out, r]. `LoraWeightSource` wraps the checkpoint's WeightSource and, when the graph builder asks
 * for an adapted weight W [out, in], returns W + scale * B @ A with scale = lora_alpha / r
 * (lora_alpha / sqrt(r) with use_rslora), as PEFT's merge_and_unload does. With fan_in_fan_out the
 * update is PEFT's transpose(B @ A), so then A is [r, out] and B is [in, r]. Several adapters are
 * applied in the order given. Everything (config, header, names, shapes) is checked when the
 * adapter is opened, before any conversion work, and every error names the file and the field or
 * tensor at fault.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { NeoxError } from '../types';
import type { NeoxConfig } from './config';
import type { WeightSource } from './weights';
import { readSafetensorsHeader, type SafetensorsEntry } from './safetensors';
import { DTYPE_BYTES, f16Table } from './sharded-checkpoint';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

/** The GPT-NeoX linear layers an adapter can target: PEFT's module name -> its path under a layer. */
export const LORA_MODULES = {
  query_key_value: 'attention.query_key_value',
  dense: 'attention.dense',
  dense_h_to_4h: 'mlp.dense_h_to_4h',
  dense_4h_to_h: 'mlp.dense_4h_to_h',
} as const;
type Module = keyof typeof LORA_MODULES;
const MODULE_NAMES = Object.keys(LORA_MODULES) as Module[];


type Entry = SafetensorsEntry;

/** One adapted weight: its lora_A and lora_B tensors. */
interface LoraPair {
  a: Entry;
  b: Entry;
  /** The base weight's shape [out, in]. */
  shape: [number, number];
}

export interface LoraAdapter {
  dir: string;
  configFile: string;
  weightsFile: string;
  r: number;
  alpha: number;
  rslora: boolean;
  fanInFanOut: boolean;
  /** lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora. */
  scale: number;
  /** Checkpoint tensor name (`gpt_neox.layers.0.attention.query_key_value.weight`) -> its update. */
  pairs: Map<string, LoraPair>;
}

/** torch Linear layout [out, in] of each adaptable weight. */
function weightShape(c: NeoxConfig, m: Module): [number, number] {
  const D = c.hiddenSize;
  const F = c.intermediateSize;
  switch (m) {
    case 'query_key_value':
      return [3 * D, D];
    case 'dense':
      return [D, D];
    case 'dense_h_to_4h':
      return [F, D];
    case 'dense_4h_to_h':
      return [D, F];
  }
}

/** The adapter's two files; a missing folder or file is an error naming it. */
export function adapterFiles(dir: string): { configFile: string; weightsFile: string } {
  const abs = resolve(dir);
  if (!existsSync(abs)) throw new NeoxError(`LoRA adapter folder ${abs} does not exist`, 'adapter_missing');
  if (!statSync(abs).isDirectory()) throw new NeoxError(`LoRA adapter ${abs} is not a folder (expected a PEFT adapter folder with ${ADAPTER_CONFIG} and ${ADAPTER_WEIGHTS})`, 'adapter_missing');
  const configFile = join(abs, ADAPTER_CONFIG);
  const weightsFile = join(abs, ADAPTER_WEIGHTS);
  if (!existsSync(configFile)) throw new NeoxError(`Missing ${configFile}: a PEFT adapter folder holds ${ADAPTER_CONFIG} and ${ADAPTER_WEIGHTS}`, 'adapter_missing');
  if (!existsSync(weightsFile)) {
    const bin = join(abs, 'adapter_model.bin');
    const why = existsSync(bin) ? ` (${bin} is there: only safetensors adapters are read; save with safe_serialization=True, PEFT's default)` : '';
    throw new NeoxError(`Missing ${weightsFile}${why}`, 'adapter_missing');
  }
  return { configFile, weightsFile };
}

/**
 * A line about the adapter in `dir` for the model picker ("LoRA r=8, lora_alpha 16 on query_key_value,
 * dense"), from its adapter_config.json; an error naming the file when the folder is not an adapter.
 * The full check against a model happens when it is merged (openAdapter).
 */
export function describeAdapter(dir: string): string {
  const { configFile } = adapterFiles(dir);
  let cfg: Record<string, unknown>;
  try {
    cfg = JSON.parse(readFileSync(configFile, 'utf8'));
  } catch (e) {
    throw new NeoxError(`${configFile} is not valid JSON: ${(e as Error).message}`, 'adapter_invalid');
  }
  if (cfg?.peft_type !== 'LORA') throw new NeoxError(`${configFile}: peft_type ${JSON.stringify(cfg?.peft_type)} is not supported: only LoRA adapters (peft_type "LORA") can be merged`, 'adapter_unsupported');
  const targets = Array.isArray(cfg.target_modules) ? cfg.target_modules.join(', ') : String(cfg.target_modules ?? '');
  return `LoRA r=${String(cfg.r)}, lora_alpha ${String(cfg.lora_alpha)}${targets ? ` on ${targets}` : ''}`;
}

/**
 * What identifies the adapters in a build's cache key: in order, each folder's files with their
 * size and mtime (like the checkpoint's files).
 */
export function adapterIdentity(dirs: readonly string[]): [string, number, number][][] {
  return dirs.map((dir) => {
    const { configFile, weightsFile } = adapterFiles(dir);
    return [configFile, weightsFile].map((f) => {
      const s = statSync(f);
      return [f, s.size, s.mtimeMs];
    });
  });
}

/** PEFT's target_modules must name GPT-NeoX linear layers (a list: names or dotted suffixes; a string: "all-linear" or a full-match regex). */
function checkTargets(configFile: string, targets: unknown, c: NeoxConfig): void {
  const bad = (why: string): never => {
    throw new NeoxError(`${configFile}: target_modules ${why}; GPT-NeoX adapters can target ${MODULE_NAMES.join(', ')}`, 'adapter_unsupported');
  };
  // PEFT's module paths in the model (gpt_neox.layers.0.attention.query_key_value, ...).
  const paths = Array.from({ length: c.numLayers }, (_, i) => MODULE_NAMES.map((m) => `gpt_neox.layers.${i}.${LORA_MODULES[m]}`)).flat();
  if (Array.isArray(targets)) {
    if (targets.length === 0) bad('is empty');
    for (const t of targets) {
      if (typeof t !== 'string') bad(`holds ${JSON.stringify(t)}, not a module name`);
      // As PEFT matches a list: a module's full path or a dotted suffix of it.
      if (!paths.some((p) => p === t || p.endsWith(`.${t}`))) bad(`"${t}" is not a GPT-NeoX linear layer`);
    }
  } else if (typeof targets === 'string') {
    if (targets === 'all-linear') return;
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${targets})$`);
    } catch (e) {
      return bad(`"${targets}" is not a valid regular expression (${(e as Error).message})`);
    }
    if (!paths.some((p) => re.test(p))) bad(`"${targets}" matches none of the model's linear layers`);
  } else {
    bad(targets === undefined ? 'is missing' : `must be a list of module names (got ${JSON.stringify(targets)})`);
  }
}

function readConfigJson(configFile: string, c: NeoxConfig): Pick<LoraAdapter, 'r' | 'alpha' | 'rslora' | 'fanInFanOut' | 'scale'> {
  let cfg: Record<string, unknown>;
  try {
    cfg = JSON.parse(readFileSync(configFile, 'utf8'));
  } catch (e) {
    throw new NeoxError(`${configFile} is not valid JSON: ${(e as Error).message}`, 'adapter_invalid');
  }
  if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) throw new NeoxError(`${configFile}: expected a JSON object`, 'adapter_invalid');
  const unsupported = (field: string, why: string): never => {
    throw new NeoxError(`${configFile}: ${field} ${why}`, 'adapter_unsupported');
  };
  const type = cfg.peft_type;
  if (type !== 'LORA') unsupported('peft_type', `${JSON.stringify(type)} is not supported: only LoRA adapters (peft_type "LORA") can be merged`);
  const r = cfg.r;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1) throw new NeoxError(`${configFile}: field "r" must be a positive integer (got ${JSON.stringify(r)})`, 'adapter_invalid');
  const alpha = cfg.lora_alpha;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) throw new NeoxError(`${configFile}: field "lora_alpha" must be a number (got ${JSON.stringify(alpha)})`, 'adapter_invalid');
  // PEFT options whose weights a plain W + scale * B @ A merge does not reproduce.
  if (cfg.use_dora === true) unsupported('use_dora', 'is true: DoRA adapters are not supported');
  if (cfg.lora_bias === true) unsupported('lora_bias', 'is true: LoRA biases are not supported');
  if (cfg.bias !== undefined && cfg.bias !== null && cfg.bias !== 'none') unsupported('bias', `is ${JSON.stringify(cfg.bias)}: only "none" is supported (trained biases are not merged)`);
  if (Array.isArray(cfg.modules_to_save) && cfg.modules_to_save.length) unsupported('modules_to_save', `(${JSON.stringify(cfg.modules_to_save)}) is not supported: only LoRA updates are merged`);
  for (const f of ['rank_pattern', 'alpha_pattern'] as const) {
    const p = cfg[f];
    if (p && typeof p === 'object' && Object.keys(p).length) unsupported(f, 'is not supported: every module must use r and lora_alpha');
  }
  if (cfg.layer_replication) unsupported('layer_replication', 'is not supported');
  checkTargets(configFile, cfg.target_modules, c);
  const rslora = cfg.use_rslora === true;
  return { r, alpha, rslora, fanInFanOut: cfg.fan_in_fan_out === true, scale: rslora ? alpha / Math.sqrt(r) : alpha / r };
}

function readHeader(file: string): Entry[] {
  const fd = openSync(file, 'r');
  try {
    return readSafetensorsHeader(file, fd, 'adapter');
  } finally {
    closeSync(fd);
  }
}

// base_model.model.gpt_neox.layers.3.attention.query_key_value.lora_A.weight (the adapter name, e.g.
// ".default", is dropped by save_pretrained but kept by some tools: both are read).
const TENSOR_NAME = /^(?:base_model\.model\.)?gpt_neox\.layers\.(\d+)\.((?:attention|mlp)\.\w+)\.lora_([AB])(?:\.[\w-]+)?\.weight$/;

/** Opens and checks the adapter in `dir` for a model with config `c`; reads no tensor data yet. */
export function openAdapter(dir: string, c: NeoxConfig): LoraAdapter {
  const { configFile, weightsFile } = adapterFiles(dir);
  const opts = readConfigJson(configFile, c);
  const halves = new Map<string, { a?: Entry; b?: Entry; module: Module }>();
  for (const e of readHeader(weightsFile)) {
    const m = TENSOR_NAME.exec(e.name);
    const module = m && MODULE_NAMES.find((k) => LORA_MODULES[k] === m[2]);
    if (!m || !module) {
      throw new NeoxError(
        `${weightsFile}: tensor ${e.name} is not a LoRA weight (lora_A/lora_B) of a GPT-NeoX linear layer (${MODULE_NAMES.join(', ')})`,
        'adapter_unsupported',
      );
    }
    const layer = Number(m[1]);
    if (layer >= c.numLayers) throw new NeoxError(`${weightsFile}: tensor ${e.name} is for layer ${layer}, but the model has ${c.numLayers} layers`, 'adapter_shape');
    const target = `gpt_neox.layers.${layer}.${m[2]}.weight`;
    const h = halves.get(target) ?? { module };
    const half = m[3] === 'A' ? 'a' : 'b';
    if (h[half]) throw new NeoxError(`${weightsFile}: tensors ${h[half]!.name} and ${e.name} are both lora_${m[3]} of ${target}`, 'adapter_invalid');
    h[half] = e;
    halves.set(target, h);
  }
  if (halves.size === 0) throw new NeoxError(`${weightsFile}: no LoRA tensors (lora_A/lora_B of GPT-NeoX layers) in the file`, 'adapter_invalid');
  const pairs = new Map<string, LoraPair>();
  const { r, fanInFanOut } = opts;
  for (const [target, { a, b, module }] of halves) {
    if (!a || !b) throw new NeoxError(`${weightsFile}: tensor ${(a ?? b)!.name} has no matching lora_${a ? 'B' : 'A'} tensor`, 'adapter_invalid');
    const shape = weightShape(c, module);
    // The update B @ A is [b0, a1]; with fan_in_fan_out it is used transposed, [a1, b0].
    const [out, inn] = fanInFanOut ? [shape[1], shape[0]] : shape;
    const layout = fanInFanOut ? ' (fan_in_fan_out: A is [r, out], B is [in, r])' : '';
    const check = (e: Entry, want: [number, number]) => {
      if (e.shape.length !== 2 || e.shape[0] !== want[0] || e.shape[1] !== want[1]) {
        throw new NeoxError(
          `${weightsFile}: tensor ${e.name} has shape [${e.shape}]; expected [${want}] for ${target} [${shape}] with r = ${r} from ${ADAPTER_CONFIG}${layout}`,
          'adapter_shape',
        );
      }
    };
    check(a, [r, inn]);
    check(b, [out, r]);
    pairs.set(target, { a, b, shape });
  }
  return { dir: resolve(dir), configFile, weightsFile, ...opts, pairs };
}

function readTensor(fd: number, file: string, e: Entry): Float32Array {
  const buf = Buffer.alloc(e.bytes);
  let got = 0;
  while (got < e.bytes) {
    const n = readSync(fd, buf, got, e.bytes - got, e.start + got);
    if (n === 0) throw new NeoxError(`${file}: tensor ${e.name} is truncated`, 'adapter_corrupt');
    got += n;
  }
  const count = e.bytes / DTYPE_BYTES[e.dtype];
  const out = new Float32Array(count);
  if (e.dtype === 'F32') {
    for (let i = 0; i < count; i++) out[i] = buf.readFloatLE(i * 4);
  } else if (e.dtype === 'F16') {
    const t = f16Table();
    for (let i = 0; i < count; i++) out[i] = t[buf.readUInt16LE(i * 2)];
  } else {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) u[i] = buf.readUInt16LE(i * 2) << 16;
  }
  for (let i = 0; i < count; i++) {
    if (!Number.isFinite(out[i])) throw new NeoxError(`${file}: tensor ${e.name} holds ${out[i]} at index ${i}`, 'adapter_corrupt');
  }
  return out;
}

/**
 * w [N, K] += scale * B @ A (A [r, K], B [N, r]), or with `transposed` scale * (B @ A)^T (A [r, N],
 * B [K, r]). Each row's update is summed in float64 and added to the float32 weight once.
 */
export function addLoraUpdate(w: Float32Array, [N, K]: readonly [number, number], a: Float32Array, b: Float32Array, r: number, scale: number, transposed: boolean): void {
  const row = new Float64Array(K);
  // Transposed: row i of the update is sum_k A[k, i] * B[:, k]; B's columns are gathered once.
  let bt: Float32Array | undefined;
  if (transposed) {
    bt = new Float32Array(r * K);
    for (let j = 0; j < K; j++) for (let k = 0; k < r; k++) bt[k * K + j] = b[j * r + k];
  }
  for (let i = 0; i < N; i++) {
    row.fill(0);
    for (let k = 0; k < r; k++) {
      const c = transposed ? a[k * N + i] : b[i * r + k];
      if (c === 0) continue;
      const src = transposed ? bt! : a;
      const off = k * K;
      for (let j = 0; j < K; j++) row[j] += c * src[off + j];
    }
    const o = i * K;
    for (let j = 0; j < K; j++) w[o + j] = w[o + j] + scale * row[j];
  }
}

/** A WeightSource that returns the wrapped checkpoint's tensors with the adapters' updates merged, in order. */
export class LoraWeightSource implements WeightSource {
  readonly config: NeoxConfig;
  private readonly fds = new Map<string, number>();

  constructor(
    private readonly base: WeightSource,
    readonly adapters: readonly LoraAdapter[],
  ) {
    this.config = base.config;
  }

  has(name: string): boolean {
    return this.base.has(name);
  }

  tensor(name: string, shape: number[]): Float32Array {
    const w = this.base.tensor(name, shape);
    for (const ad of this.adapters) {
      const p = ad.pairs.get(name);
      if (!p) continue;
      if (shape.length !== 2 || shape[0] !== p.shape[0] || shape[1] !== p.shape[1]) {
        throw new NeoxError(`${ad.weightsFile}: the update of ${name} is [${p.shape}], but the model asks for [${shape}]`, 'adapter_shape');
      }
      const fd = this.fd(ad.weightsFile);
      addLoraUpdate(w, p.shape, readTensor(fd, ad.weightsFile, p.a), readTensor(fd, ad.weightsFile, p.b), ad.r, ad.scale, ad.fanInFanOut);
    }
    return w;
  }

  private fd(file: string): number {
    let fd = this.fds.get(file);
    if (fd === undefined) {
      try {
        fd = openSync(file, 'r');
      } catch (e) {
        throw new NeoxError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'adapter_missing');
      }
      this.fds.set(file, fd);
    }
    return fd;
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
    this.base.close();
  }
}

/** Opens every adapter in `dirs` (all checked before `open` runs), then the base source with them merged on top. */
export function withAdapters(dirs: readonly string[] | undefined, config: NeoxConfig, open: () => WeightSource): WeightSource {
  const adapters = (dirs ?? []).map((d) => openAdapter(d, config));
  const base = open();
  return adapters.length ? new LoraWeightSource(base, adapters) : base;
}
