/**
 * npm run bench:20b — a GPT-NeoX-20B-shaped model on this machine, in int4.
 *
 * Builds the model from RANDOM weights (seeded, N(0, 0.02^2)) streamed tensor by tensor straight
 * into the int4 ONNX format (no 41 GB float16 checkpoint anywhere), loads it in onnxruntime,
 * prefills a 64-token random prompt and greedily generates 8 tokens. Prints one JSON object:
 * conversion time, load time, peak RSS (of the conversion and of the run, each its own process),
 * seconds per token, the weight bytes read per token, the measured memory read bandwidth (memcmp
 * on 1 and on all threads, before the conversion and after the run) and the resulting bandwidth
 * floor (bytes per token / bandwidth).
 *
 * Options: --block 128|32 (default 128: 10.6 GB of int4 blocks instead of 12.5 GB at 32, and fewer
 * bytes per token), --scales search-coarse|search|rtn (default search-coarse: the clipping
 * search on a 1-ratio grid, since the full 19-ratio grid would take ~13x longer on 20e9 weights),
 * --threads N (default: cores), --dir PATH (default: $TMPDIR/neox-bench-20b), --keep (do not
 * delete the ~12 GB model at the end), --layers N (fewer layers, for a quick trial).
 *
 * Phases run as child processes of this script so each one's peak RSS is its own.
 */
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { parseConfig, type NeoxConfig } from '../engine/local/config';
import type { WeightSource } from '../engine/local/weights';
import { buildInto, DATA_FILE, ONNX_FILE } from '../engine/local/model-cache';
import { OnnxKvRunner } from '../engine/local/kv-runner';
import type { LoadOptions } from '../engine/local/runner';
import { Int4Pool, setInt4Pool } from '../engine/local/quant/pool';

/** EleutherAI/gpt-neox-20b config.json (the fields the builder reads). */
const NEOX_20B = {
  architectures: ['GPTNeoXForCausalLM'],
  model_type: 'gpt_neox',
  bos_token_id: 0,
  eos_token_id: 0,
  hidden_act: 'gelu_fast',
  hidden_size: 6144,
  intermediate_size: 24576,
  num_attention_heads: 64,
  num_hidden_layers: 44,
  max_position_embeddings: 2048,
  rotary_pct: 0.25,
  rotary_emb_base: 10000,
  layer_norm_eps: 1e-5,
  use_parallel_residual: true,
  tie_word_embeddings: false,
  vocab_size: 50432,
};

// ---------- random weights ----------

/** Acklam's inverse normal CDF (relative error < 1.2e-9). */
function inverseNormal(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) return -inverseNormal(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/**
 * Normal samples by table lookup: 65536 equiprobable quantiles of N(0,1), indexed by 16 random
 * bits (two samples per xorshift32 draw). ~1 ns per weight instead of ~20 for Box-Muller: 20e9
 * weights make the generator part of the conversion time.
 */
const NORMAL_TABLE = Float32Array.from({ length: 65536 }, (_, i) => inverseNormal((i + 0.5) / 65536));

function fillNormal(out: Float32Array, std: number, seed: number): void {
  const table = new Float32Array(65536);
  for (let i = 0; i < 65536; i++) table[i] = NORMAL_TABLE[i] * std;
  let s = seed >>> 0 || 0x9e3779b9;
  const n = out.length;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = table[s & 0xffff];
    out[i + 1] = table[s >>> 16];
  }
  if (i < n) out[i] = table[(s * 2654435761) >>> 16];
}

function hashName(name: string, seed: number): number {
  let h = (2166136261 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/** The 20B shape with seeded random weights, generated when the builder asks for each tensor. */
class RandomWeightSource implements WeightSource {
  constructor(
    readonly config: NeoxConfig,
    private readonly seed: number,
  ) {}
  has(): boolean {
    return true;
  }
  tensor(name: string, shape: number[]): Float32Array {
    const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (/layernorm\.weight$|layer_norm\.weight$/.test(name)) return out.fill(1);
    // Biases and norm shifts small, weights at GPT-NeoX's initializer_range 0.02.
    fillNormal(out, shape.length === 1 ? 0.002 : 0.02, hashName(name, this.seed));
    return out;
  }
  close(): void {}
}

// ---------- phases ----------

function peakRssBytes(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}

function configFor(layers?: number): NeoxConfig {
  return parseConfig({ ...NEOX_20B, ...(layers ? { num_hidden_layers: layers } : {}) }, 'gpt-neox-20b config');
}

interface Args {
  block: number;
  scales: NonNullable<LoadOptions['int4Scales']>;
  threads: number;
  dir: string;
  keep: boolean;
  layers?: number;
  seed: number;
}

async function phaseConvert(a: Args) {
  const config = configFor(a.layers);
  const pool = await Int4Pool.start(a.threads - 1);
  setInt4Pool(pool);
  const t0 = performance.now();
  let last = 0;
  buildInto(new RandomWeightSource(config, a.seed), a.dir, { quant: 'int4', blockSize: a.block, int4Scales: a.scales }, (p) => {
    // progress on stderr, at most every 10 s
    if (performance.now() - last > 10_000 || p.fraction === 1) {
      last = performance.now();
      process.stderr.write(`[convert ${((performance.now() - t0) / 1000).toFixed(0)} s] ${p.message} ${p.fraction !== undefined ? (p.fraction * 100).toFixed(0) + '%' : ''}\n`);
    }
  });
  const convertSeconds = (performance.now() - t0) / 1000;
  await pool?.close();
  return { convertSeconds, convertThreads: pool?.threads ?? 1, convertPeakRssBytes: peakRssBytes() };
}

async function phaseRun(a: Args) {
  const config = configFor(a.layers);
  const t0 = performance.now();
  const runner = await OnnxKvRunner.open(join(a.dir, ONNX_FILE), config, a.threads);
  const loadSeconds = (performance.now() - t0) / 1000;
  const rssAfterLoad = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
  let s = a.seed;
  const prompt = Array.from({ length: 64 }, () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) % 50000) + 100);
  runner.reset(1);
  const t1 = performance.now();
  let { logits } = await runner.forward([prompt], false);
  const prefillSeconds = (performance.now() - t1) / 1000;
  const stepSeconds: number[] = [];
  const generated: number[] = [];
  for (let i = 0; i < 8; i++) {
    let best = 0;
    for (let v = 1; v < config.vocabSize; v++) if (logits[v] > logits[best]) best = v;
    generated.push(best);
    const t = performance.now();
    ({ logits } = await runner.forward([[best]], false));
    stepSeconds.push((performance.now() - t) / 1000);
    process.stderr.write(`[run] token ${i + 1}/8: ${stepSeconds[i].toFixed(3)} s\n`);
  }
  await runner.dispose();
  const finite = logits.every(Number.isFinite);
  return {
    loadSeconds,
    prefillSeconds,
    prefillTokens: prompt.length,
    secondsPerToken: stepSeconds.reduce((x, y) => x + y, 0) / stepSeconds.length,
    stepSeconds,
    generated,
    logitsFinite: finite,
    rssAfterLoadBytes: rssAfterLoad,
    runPeakRssBytes: peakRssBytes(),
  };
}

/**
 * Memory read bandwidth: glibc memcmp (vectorised) of two equal 512 MiB halves of a shared 1 GiB
 * buffer, far larger than the caches, on one thread and on `threads` worker threads at once
 * (each its own 1 GiB); best of 5 each, the larger figure counts. Measured before the conversion
 * and again right after the token timings, so a busy machine shows in both.
 */
async function phaseBandwidth(a: Args) {
  const half = 1 << 29;
  const threads = Math.max(1, a.threads);
  const sab = new SharedArrayBuffer(threads * 2 * half);
  new Uint8Array(sab).fill(1);
  const code = `const { parentPort, workerData: { sab, off, n } } = require('node:worker_threads');
    const x = Buffer.from(sab, off, n), y = Buffer.from(sab, off + n, n);
    parentPort.on('message', () => { const t = performance.now(); Buffer.compare(x, y); parentPort.postMessage(performance.now() - t); });`;
  const workers = Array.from({ length: threads }, (_, i) => new Worker(code, { eval: true, workerData: { sab, off: i * 2 * half, n: half } }));
  const once = (w: Worker) => new Promise<number>((resolve) => {
    w.once('message', resolve);
    w.postMessage(0);
  });
  try {
    let one = 0;
    let all = 0;
    for (let i = 0; i < 6; i++) {
      const ms = await once(workers[0]);
      const t = performance.now();
      await Promise.all(workers.map(once));
      const allMs = performance.now() - t;
      if (i === 0) continue; // warm-up: first touch of the pages
      one = Math.max(one, (2 * half) / (ms / 1000));
      all = Math.max(all, (threads * 2 * half) / (allMs / 1000));
    }
    return { bandwidthBytesPerSecond: Math.max(one, all), bandwidthOneThread: one, bandwidthAllThreads: all };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Weight bytes one decode step reads: every linear layer's int4 blocks + scales + bias, the int8 head, the norms. */
function bytesPerToken(c: NeoxConfig, block: number): number {
  const int4 = (K: number, N: number) => {
    const nb = Math.ceil(K / block);
    return N * nb * (block / 2) + N * nb * 4 + N * 4;
  };
  const D = c.hiddenSize;
  const F = c.intermediateSize;
  const layer = int4(D, 3 * D) + int4(D, D) + int4(D, F) + int4(F, D) + 4 * D * 4;
  const head = D * c.vocabSize + c.vocabSize * 5; // int8 codes + fp32 scale + int8 zero point per channel (policy.ts)
  return c.numLayers * layer + head + 2 * D * 4 + D * 4; // + final norm + the token's embedding row
}

function childPhase(phase: string, argv: string[]): Record<string, unknown> {
  const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--phase', phase, ...argv], {
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  });
  const out = r.stdout.toString().trim().split('\n').pop() ?? '';
  if (r.status !== 0) throw new Error(`bench:20b phase ${phase} failed (exit ${r.status}${r.signal ? ', ' + r.signal : ''}): ${out}`);
  return JSON.parse(out);
}

async function main() {
  const { values } = parseArgs({
    options: {
      phase: { type: 'string' },
      block: { type: 'string', default: '128' },
      scales: { type: 'string', default: 'search-coarse' },
      threads: { type: 'string', default: String(availableParallelism()) },
      dir: { type: 'string', default: join(tmpdir(), 'neox-bench-20b') },
      keep: { type: 'boolean', default: false },
      layers: { type: 'string' },
      seed: { type: 'string', default: '20' },
    },
  });
  const a: Args = {
    block: Number(values.block),
    scales: values.scales as Args['scales'],
    threads: Number(values.threads),
    dir: values.dir!,
    keep: !!values.keep,
    layers: values.layers ? Number(values.layers) : undefined,
    seed: Number(values.seed),
  };
  if (![32, 128].includes(a.block)) throw new Error('--block must be 32 or 128');
  if (!['search', 'search-coarse', 'rtn'].includes(a.scales)) throw new Error('--scales must be search, search-coarse or rtn');
  if (values.phase === 'convert') return console.log(JSON.stringify(await phaseConvert(a)));
  if (values.phase === 'run') return console.log(JSON.stringify(await phaseRun(a)));
  if (values.phase === 'bandwidth') return console.log(JSON.stringify(await phaseBandwidth(a)));

  const argv = process.argv.slice(2);
  const reuse = existsSync(join(a.dir, ONNX_FILE)) && existsSync(join(a.dir, DATA_FILE));
  const result: Record<string, unknown> = {
    model: `GPT-NeoX-20B shape (hidden 6144, ${a.layers ?? 44} layers, 64 heads, ffn 24576, vocab 50432, rotary_pct 0.25, gelu_fast, parallel residual), random weights`,
    quant: `int4 block ${a.block} (${a.scales} scales), output head int8 per-channel, embeddings fp32`,
    threads: a.threads,
    machine: `${availableParallelism()} cores, ${(readFileSync('/proc/meminfo', 'utf8').match(/MemTotal:\s+(\d+)/)?.[1] ?? '0') as string} kB RAM, ${/model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU'}`,
  };
  try {
    const before = childPhase('bandwidth', argv);
    if (reuse) {
      process.stderr.write(`[bench:20b] reusing the model in ${a.dir} (--keep of an earlier run)\n`);
      result.convertSeconds = null;
    } else {
      Object.assign(result, childPhase('convert', argv));
    }
    result.modelBytesOnDisk = statSync(join(a.dir, DATA_FILE)).size + statSync(join(a.dir, ONNX_FILE)).size;
    Object.assign(result, childPhase('run', argv));
    const afterRun = childPhase('bandwidth', argv);
    result.bandwidthMethod = `memcmp of 2 x 512 MiB per thread, 1 and ${a.threads} threads, best of 5, before the conversion and after the run; the highest counts`;
    result.bandwidthBefore = before;
    result.bandwidthAfterRun = afterRun;
    result.bandwidthBytesPerSecond = Math.max(before.bandwidthBytesPerSecond as number, afterRun.bandwidthBytesPerSecond as number);
    const bpt = bytesPerToken(configFor(a.layers), a.block);
    const floor = bpt / (result.bandwidthBytesPerSecond as number);
    result.weightBytesPerToken = bpt;
    result.bandwidthFloorSecondsPerToken = floor;
    result.ratioToFloor = (result.secondsPerToken as number) / floor;
    const peak = Math.max(result.runPeakRssBytes as number, (result.convertPeakRssBytes as number) ?? 0);
    result.peakRssBytes = peak;
    result.peakRssGB = +(peak / 1e9).toFixed(2);
    result.targets = { peakRssUnder16GB: peak < 16e9, withinTwiceTheFloor: (result.ratioToFloor as number) <= 2 };
  } finally {
    if (!a.keep) rmSync(a.dir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(result, null, 2));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
