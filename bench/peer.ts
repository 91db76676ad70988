// The engine side by side with llama.cpp on this machine: for each model and precision, our runner and
// llama.cpp's llama-bench run one after the other at the same thread count, and the JSON on stdout holds
// both sides' prefill and decode tokens/s, peak RSS and the ratios (progress goes to stderr).
//   npm run bench:peer -- [--llama-cpp DIR] [--threads N] [--models default,410m] [--quants fp32,int8,int4]
//                         [--reps R] [--model DIR] [--quick]
// DIR is any llama.cpp build folder with bin/llama-bench (or llama-bench) inside; default ../shared/peer/llama.cpp.
// Models: `default` is --model (models/neox-code-23m), fp32/int8/int4 against F32/Q8_0/Q4_0; `410m` is a
// pythia-410m-shaped checkpoint with random weights (../shared/tools/make_random_neox.py, with the default
// model's tokenizer.json), int8/int4 unless --quants says otherwise. What the runs need is made into
// .cache/peer/ once and reused: the GGUF files (../shared/peer/make-gguf.sh), the random checkpoint, and our
// ONNX builds (.cache/peer/onnx, built in a process of its own so the build's memory is not in the figures).
// Ours: each configuration in a fresh child process (peak RSS = that process's maxRSS), prefill = one
// forward of 512 tokens from an empty cache, decode = 128 tokens one at a time from an empty cache, each next
// token the argmax of the last logits (greedy) — the same shapes as llama-bench's pp512 and tg128 tests.
// Both sides: mean tokens/s over --reps repetitions (default 3) after a warm-up. llama.cpp's peak RSS comes
// from /usr/bin/time -f %M (else /proc/<pid>/status VmHWM, polled). --quick (p 64, n 16, reps 1, default
// model only) checks the mechanics; its numbers mean nothing. Measure on an idle machine: llama.cpp's
// threads spin while they wait, so one busy core ruins its decode figures.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  GGUF_TYPE,
  llamaBenchCandidates,
  loadedCpuBackend,
  meanStd,
  parseCpuInfo,
  parseLlamaBench,
  parseTimeMaxRss,
  parseVmHwm,
  ratios,
  round,
  type LlamaBenchResult,
  type OurPrecision,
} from './peer-lib';
import { ensureGguf, PEER } from './peer-gguf';

const repo = fileURLToPath(new URL('..', import.meta.url));
const shared = resolve(repo, '..', 'shared');
const { values: args } = parseArgs({
  options: {
    'llama-cpp': { type: 'string', default: PEER.llamaCpp },
    threads: { type: 'string' },
    models: { type: 'string' },
    quants: { type: 'string' },
    reps: { type: 'string' },
    quick: { type: 'boolean', default: false },
    model: { type: 'string', default: join(repo, 'models', 'neox-code-23m') },
    'make-gguf': { type: 'string', default: PEER.makeGguf },
    'make-random': { type: 'string', default: join(shared, 'tools', 'make_random_neox.py') },
    child: { type: 'string' }, // internal: one configuration, as JSON (ChildSpec)
  },
});
const log = (m: string) => process.stderr.write(`bench:peer ${m}\n`);

interface ChildSpec {
  modelDir: string;
  quant: OurPrecision;
  cacheDir: string;
  threads: number;
  /** Only build (or find) the ONNX model, measure nothing. */
  build?: boolean;
  prompt: number;
  gen: number;
  reps: number;
}

interface OurResult {
  prefillTokS?: number;
  prefillStddev?: number;
  decodeTokS?: number;
  decodeStddev?: number;
  peakRssMB?: number;
  loadMs?: number;
  threads?: unknown;
  error?: string;
}

// ---------------------------------------------------------------- child: one configuration of ours

async function child(spec: ChildSpec): Promise<OurResult | { built: true; ms: number }> {
  const { loadRunner } = await import('../engine/local/load');
  const t0 = performance.now();
  const runner = await loadRunner({ modelDir: spec.modelDir, quant: spec.quant, cacheDir: spec.cacheDir, threads: spec.threads }, (p) =>
    process.stderr.write(`\rbench:peer ${spec.quant} ${p.stage}: ${p.message}${p.fraction !== undefined ? ` ${Math.round(p.fraction * 100)}%` : ''}\x1b[K`),
  );
  process.stderr.write('\n');
  const loadMs = performance.now() - t0;
  if (spec.build) {
    await runner.dispose();
    return { built: true, ms: round(loadMs) };
  }
  // Real code tokens (as bench:runner uses), so attention sees realistic input; llama-bench uses random ids.
  const ref = JSON.parse(readFileSync(join(repo, 'test/fixtures/neox-code-23m-reference.json'), 'utf8')) as { greedy: { input_ids: number[] }[] };
  const pool = ref.greedy.flatMap((g) => g.input_ids);
  while (pool.length < spec.prompt + 1024) pool.push(...pool);
  const vocab = runner.info.vocabSize;
  const tokens = (n: number, from: number) => pool.slice(from, from + n).map((t) => t % vocab);
  const argmax = (l: Float32Array) => {
    let best = 0;
    for (let i = 1; i < l.length; i++) if (l[i]! > l[best]!) best = i;
    return best;
  };
  const decode = async (n: number, first: number) => {
    runner.reset(1);
    let next = first;
    const s = performance.now();
    for (let i = 0; i < n; i++) next = argmax((await runner.forward([[next]]))[0]!);
    return performance.now() - s;
  };

  // Warm-up (onnxruntime allocates its arenas on first runs), as llama-bench warms up before each test.
  runner.reset(1);
  await runner.forward([tokens(Math.min(64, spec.prompt), 0)]);
  await decode(4, pool[0]! % vocab);

  const prefill: number[] = [];
  for (let i = 0; i < spec.reps; i++) {
    runner.reset(1);
    const s = performance.now();
    await runner.forward([tokens(spec.prompt, 97 * i)]);
    prefill.push((spec.prompt / (performance.now() - s)) * 1000);
  }
  const decodeRuns: number[] = [];
  for (let i = 0; i < spec.reps; i++) decodeRuns.push((spec.gen / (await decode(spec.gen, tokens(1, 500 + i)[0]!))) * 1000);
  const threads = runner.info.summary.threads;
  await runner.dispose();
  const p = meanStd(prefill);
  const d = meanStd(decodeRuns);
  return {
    prefillTokS: round(p.mean, 2),
    prefillStddev: round(p.stddev, 2),
    decodeTokS: round(d.mean, 2),
    decodeStddev: round(d.stddev, 2),
    peakRssMB: round(process.resourceUsage().maxRSS / 1024),
    loadMs: round(loadMs),
    threads,
  };
}

if (args.child) {
  const spec = JSON.parse(args.child) as ChildSpec;
  const result = await child(spec).catch((e: Error) => ({ error: e.message.split('\n')[0] }));
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
}

// ---------------------------------------------------------------- parent

const self = fileURLToPath(import.meta.url);
const peerCache = PEER.cacheDir;
const onnxCache = join(peerCache, 'onnx');
const threads = args.threads ? Number(args.threads) : availableParallelism();
const reps = args.reps ? Number(args.reps) : args.quick ? 1 : 3;
const promptTokens = args.quick ? 64 : 512;
const genTokens = args.quick ? 16 : 128;
const models = (args.models ?? (args.quick ? 'default' : 'default,410m')).split(',').map((s) => s.trim());
if (!Number.isInteger(threads) || threads < 1) fail(`--threads must be a positive integer (got ${args.threads})`);
if (!Number.isInteger(reps) || reps < 1) fail(`--reps must be a positive integer (got ${args.reps})`);
for (const m of models) if (m !== 'default' && m !== '410m') fail(`--models takes default and/or 410m (got ${m})`);
const quantsFor = (m: string): OurPrecision[] => {
  const q = (args.quants ?? (m === 'default' ? 'fp32,int8,int4' : 'int8,int4')).split(',').map((s) => s.trim());
  for (const x of q) if (!(x in GGUF_TYPE)) fail(`--quants takes fp32, int8, int4 (got ${x})`);
  return q as OurPrecision[];
};

function fail(message: string): never {
  log(message);
  process.exit(1);
}

const llamaDir = resolve(args['llama-cpp']!);
const llamaBench = llamaBenchCandidates(llamaDir).find((p) => existsSync(p));
if (!llamaBench) fail(`no llama-bench in ${llamaDir} (looked for ${llamaBenchCandidates(llamaDir).join(', ')}); pass --llama-cpp DIR, a llama.cpp build folder`);

/** python3 with numpy, needed by make_random_neox.py and neox_to_gguf.py (through make-gguf.sh). */
function needPython(what: string) {
  const r = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
  if (r.status !== 0) {
    fail(`python3 with numpy is needed to make ${what}; install it, then run this again:\n    sudo apt-get install -y python3-numpy`);
  }
}

/** Runs `cmd` to completion with inherited stderr; fails the benchmark if it does not succeed. */
function mustRun(cmd: string, argv: string[], what: string) {
  const r = spawnSync(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) fail(`${what} failed (${cmd} exited with ${r.status ?? r.signal})`);
}

interface Model {
  name: string;
  dir: string;
  ggufPrefix: string;
  quants: OurPrecision[];
}

function prepareModel(which: string): Model {
  let dir = resolve(args.model!);
  if (which === '410m') {
    dir = join(peerCache, 'pythia-410m-random');
    if (!existsSync(join(dir, 'model.safetensors')) || !existsSync(join(dir, 'config.json'))) {
      needPython('the 410M-shaped random checkpoint');
      log(`making ${dir} (pythia-410m shape, random weights, about 810 MB)`);
      const tmp = `${dir}.tmp-${process.pid}`;
      rmSync(tmp, { recursive: true, force: true });
      mustRun('python3', [resolve(args['make-random']!), tmp, '--tokenizer', join(resolve(args.model!), 'tokenizer.json'), '--preset', 'pythia-410m'], 'make_random_neox.py');
      rmSync(dir, { recursive: true, force: true });
      renameSync(tmp, dir);
    }
  }
  const name = which === '410m' ? 'pythia-410m-random' : basename(dir);
  let ggufPrefix = '';
  try {
    ggufPrefix = ensureGguf(dir, name, { cacheDir: peerCache, makeGguf: args['make-gguf'], log });
  } catch (e) {
    fail((e as Error).message);
  }
  return { name, dir, ggufPrefix, quants: quantsFor(which) };
}

/** Our side of one configuration, in a fresh node process. */
function runOurs(spec: ChildSpec): OurResult & { built?: true; ms?: number } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', JSON.stringify(spec)], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as OurResult;
  } catch {
    return { error: `benchmark process exited with ${r.status ?? r.signal}` };
  }
}

/** llama-bench on one GGUF file; its peak RSS from /usr/bin/time, else VmHWM polled while it runs. */
async function runLlama(gguf: string): Promise<(LlamaBenchResult & { peakRssMB?: number; cpuBackend?: string }) | { error: string }> {
  const benchArgs = ['-m', gguf, '-t', String(threads), '-p', String(promptTokens), '-n', String(genTokens), '-r', String(reps), '-o', 'json'];
  const useTime = existsSync('/usr/bin/time');
  const timeFile = join(peerCache, `time-${process.pid}.txt`);
  const [cmd, argv] = useTime ? ['/usr/bin/time', ['-f', '%M', '-o', timeFile, llamaBench!, ...benchArgs]] : [llamaBench!, benchArgs];
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let hwm: number | undefined;
  proc.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  proc.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const poll = useTime
    ? undefined
    : setInterval(() => {
        try {
          const v = parseVmHwm(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
          if (v !== undefined) hwm = Math.max(hwm ?? 0, v);
        } catch {
          /* exited */
        }
      }, 20);
  const code = await new Promise<number | null>((res) => proc.on('close', (c) => res(c)));
  if (poll) clearInterval(poll);
  let peakRssMB = hwm;
  if (useTime) {
    try {
      peakRssMB = parseTimeMaxRss(readFileSync(timeFile, 'utf8'));
    } catch {
      /* no file: the run failed */
    }
    rmSync(timeFile, { force: true });
  }
  if (code !== 0) return { error: `llama-bench exited with ${code}: ${stderr.trim().split('\n').slice(-2).join(' | ')}` };
  try {
    const cpuBackend = loadedCpuBackend(stderr);
    return { ...parseLlamaBench(stdout), ...(peakRssMB !== undefined ? { peakRssMB } : {}), ...(cpuBackend ? { cpuBackend } : {}) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

mkdirSync(onnxCache, { recursive: true });
log(`llama-bench: ${llamaBench}; threads ${threads}, prompt ${promptTokens}, decode ${genTokens}, reps ${reps}, models ${models.join(',')}`);

// Everything that has to be made first, so no build runs between measurements.
const prepared = models.map(prepareModel);
const { isModelCached } = await import('../engine/local/model-cache');
for (const m of prepared) {
  for (const quant of m.quants) {
    if (isModelCached({ modelDir: m.dir, quant, cacheDir: onnxCache })) continue;
    log(`building our ${quant} model of ${m.name} into ${onnxCache}`);
    const r = runOurs({ modelDir: m.dir, quant, cacheDir: onnxCache, threads, build: true, prompt: 0, gen: 0, reps: 0 });
    if (r.error) log(`build failed: ${r.error}`);
  }
}

const rows = [];
let llamaInfo: { build?: unknown; cpuBackend?: string; backends?: string } = {};
for (const m of prepared) {
  for (const quant of m.quants) {
    const gguf = `${m.ggufPrefix}-${GGUF_TYPE[quant]}.gguf`;
    log(`${m.name} ${quant}: ours`);
    const ours = runOurs({ modelDir: m.dir, quant, cacheDir: onnxCache, threads, prompt: promptTokens, gen: genTokens, reps });
    log(`${m.name} ${quant}: llama.cpp ${GGUF_TYPE[quant]}`);
    const llama = await runLlama(gguf);
    const l = 'error' in llama ? undefined : llama;
    if (l) llamaInfo = { build: l.build, cpuBackend: l.cpuBackend, backends: l.backends };
    const llamaRow =
      l === undefined
        ? llama
        : {
            prefillTokS: l.prefill?.tokS,
            prefillStddev: l.prefill?.stddev,
            decodeTokS: l.decode?.tokS,
            decodeStddev: l.decode?.stddev,
            peakRssMB: l.peakRssMB,
            threads: l.threads,
            modelSizeMB: l.modelSizeMB,
          };
    rows.push({
      model: m.name,
      precision: quant,
      gguf: GGUF_TYPE[quant],
      ours,
      llamaCpp: llamaRow,
      ratio: ratios(ours, l ? { prefillTokS: l.prefill?.tokS, decodeTokS: l.decode?.tokS, peakRssMB: l.peakRssMB } : {}),
    });
  }
}

const cpuinfo = (() => {
  try {
    return parseCpuInfo(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return { model: cpus()[0]?.model, flags: {} };
  }
})();
const git = spawnSync('git', ['describe', '--always', '--dirty'], { cwd: repo, encoding: 'utf8' });
const ortVersion = (() => {
  try {
    return (JSON.parse(readFileSync(join(repo, 'node_modules/onnxruntime-node/package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return undefined;
  }
})();
console.log(
  JSON.stringify(
    {
      date: new Date().toISOString(),
      machine: {
        cpu: cpuinfo.model ?? cpus()[0]?.model,
        flags: cpuinfo.flags,
        cores: availableParallelism(),
        memoryGB: round(totalmem() / 2 ** 30),
        node: process.version,
        onnxruntime: ortVersion,
      },
      settings: { threads, promptTokens, decodeTokens: genTokens, reps, quick: args.quick },
      ours: { commit: git.status === 0 ? git.stdout.trim() : undefined },
      llamaCpp: { bench: llamaBench, ...llamaInfo },
      ratioNote: 'each ratio > 1 where ours is better: prefill and decode tokens/s ours / llama.cpp, rss peak RSS llama.cpp / ours',
      rows,
    },
    null,
    2,
  ),
);
