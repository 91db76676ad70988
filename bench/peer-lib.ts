// Pure parts of bench/peer.ts (no processes, no files): reading llama-bench's JSON, the processor's
// description from /proc/cpuinfo, where a llama.cpp build keeps llama-bench, the precision pairs and the
// ratios between the two sides. Unit-tested in test/bench/peer.test.ts.
import { join } from 'node:path';

export type OurPrecision = 'fp32' | 'int8' | 'int4';

/** Our precision and the llama.cpp GGUF type it is compared with (make-gguf.sh writes these three). */
export const GGUF_TYPE: Record<OurPrecision, 'F32' | 'Q8_0' | 'Q4_0'> = { fp32: 'F32', int8: 'Q8_0', int4: 'Q4_0' };

/** One llama-bench test (a row of its `-o json` / `-o jsonl` output). */
export interface LlamaBenchTest {
  n_prompt: number;
  n_gen: number;
  n_threads: number;
  avg_ts: number;
  stddev_ts: number;
  samples_ts?: number[];
  build_commit?: string;
  build_number?: number;
  cpu_info?: string;
  backends?: string;
  model_type?: string;
  model_size?: number;
  model_n_params?: number;
  n_batch?: number;
  n_ubatch?: number;
  use_mmap?: boolean;
  test_time?: string;
}

export interface Speed {
  /** Mean tokens/s over the repetitions (llama-bench's avg_ts). */
  tokS: number;
  stddev: number;
  samples: number[];
}

export interface LlamaBenchResult {
  prefill?: Speed & { tokens: number };
  decode?: Speed & { tokens: number };
  threads?: number;
  build?: { commit?: string; number?: number };
  modelType?: string;
  modelSizeMB?: number;
  backends?: string;
}

/**
 * llama-bench's stdout with `-o json` (one array) or `-o jsonl` (one object a line); anything before the
 * JSON (a stray log line) is skipped. The prompt-processing test is the row with n_prompt > 0 and
 * n_gen = 0, the generation test the row with n_prompt = 0 and n_gen > 0 (the first of each).
 */
export function parseLlamaBench(stdout: string): LlamaBenchResult {
  const rows = readRows(stdout);
  if (rows.length === 0) throw new Error('llama-bench printed no test results');
  const speed = (t: LlamaBenchTest) => ({
    tokS: round(t.avg_ts, 2),
    stddev: round(t.stddev_ts ?? 0, 2),
    samples: (t.samples_ts ?? [t.avg_ts]).map((x) => round(x, 2)),
  });
  const pp = rows.find((t) => t.n_prompt > 0 && t.n_gen === 0);
  const tg = rows.find((t) => t.n_prompt === 0 && t.n_gen > 0);
  const first = rows[0]!;
  return {
    ...(pp ? { prefill: { tokens: pp.n_prompt, ...speed(pp) } } : {}),
    ...(tg ? { decode: { tokens: tg.n_gen, ...speed(tg) } } : {}),
    threads: first.n_threads,
    build: { commit: first.build_commit, number: first.build_number },
    modelType: first.model_type,
    ...(first.model_size !== undefined ? { modelSizeMB: round(first.model_size / 2 ** 20) } : {}),
    backends: first.backends,
  };
}

function readRows(stdout: string): LlamaBenchTest[] {
  const lines = stdout.split('\n');
  const at = lines.findIndex((l) => /^\s*[[{]/.test(l));
  if (at < 0) return [];
  const rest = lines.slice(at).join('\n').trim();
  const rows: unknown[] = rest.startsWith('[')
    ? (JSON.parse(rest.slice(0, rest.lastIndexOf(']') + 1)) as unknown[])
    : rest
        .split('\n')
        .filter((l) => l.trim().startsWith('{'))
        .map((l) => JSON.parse(l) as unknown);
  return rows.filter((r): r is LlamaBenchTest => {
    const t = r as Partial<LlamaBenchTest> | null;
    return !!t && typeof t.n_prompt === 'number' && typeof t.n_gen === 'number' && typeof t.avg_ts === 'number';
  });
}

/** The CPU backend llama.cpp loaded at run time (GGML_BACKEND_DL builds say so on stderr), e.g. libggml-cpu-icelake.so. */
export function loadedCpuBackend(stderr: string): string | undefined {
  const m = /loaded CPU backend from (\S+)/.exec(stderr);
  return m ? m[1]!.split('/').pop() : undefined;
}

/** Ratios, each > 1 where ours is better: tokens/s ours / llama.cpp, peak RSS llama.cpp / ours. */
export interface Ratios {
  prefill?: number;
  decode?: number;
  rss?: number;
}

export function ratios(
  ours: { prefillTokS?: number; decodeTokS?: number; peakRssMB?: number },
  llama: { prefillTokS?: number; decodeTokS?: number; peakRssMB?: number },
): Ratios {
  const r = (a?: number, b?: number) => (a !== undefined && b !== undefined && a > 0 && b > 0 ? round(a / b, 2) : undefined);
  const out: Ratios = {};
  const prefill = r(ours.prefillTokS, llama.prefillTokS);
  const decode = r(ours.decodeTokS, llama.decodeTokS);
  const rss = r(llama.peakRssMB, ours.peakRssMB);
  if (prefill !== undefined) out.prefill = prefill;
  if (decode !== undefined) out.decode = decode;
  if (rss !== undefined) out.rss = rss;
  return out;
}

/** Mean and (sample) standard deviation, as llama-bench reports them. */
export function meanStd(xs: number[]): { mean: number; stddev: number } {
  if (xs.length === 0) return { mean: NaN, stddev: NaN };
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const stddev = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, stddev };
}

export interface CpuInfo {
  model?: string;
  /** The SIMD features that decide which kernels both sides use. */
  flags: Record<string, boolean>;
}

const FLAGS = ['avx2', 'fma', 'f16c', 'avx_vnni', 'avx512f', 'avx512bw', 'avx512vl', 'avx512_vnni', 'avx512_bf16', 'amx_int8'];
const ARM_FLAGS = ['asimd', 'asimddp', 'i8mm', 'sve', 'sve2', 'bf16'];

/** The first processor's model name and SIMD flags from /proc/cpuinfo (x86 "flags", ARM "Features"). */
export function parseCpuInfo(text: string): CpuInfo {
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim();
  const model = field('model name') ?? field('Model') ?? field('Hardware');
  const x86 = field('flags');
  const arm = field('Features');
  const have = new Set((x86 ?? arm ?? '').split(/\s+/).filter(Boolean));
  const flags: Record<string, boolean> = {};
  for (const f of x86 !== undefined || arm === undefined ? FLAGS : ARM_FLAGS) flags[f] = have.has(f);
  return { ...(model ? { model } : {}), flags };
}

/** Where llama-bench lives in a llama.cpp build folder: DIR/bin/llama-bench, DIR/llama-bench or DIR/build/bin/llama-bench. */
export function llamaBenchCandidates(dir: string): string[] {
  return [join(dir, 'bin', 'llama-bench'), join(dir, 'llama-bench'), join(dir, 'build', 'bin', 'llama-bench')];
}

/** Peak RSS in MB (KiB / 1024, as bench:engine reports it) from /usr/bin/time -f %M's output (its last number). */
export function parseTimeMaxRss(text: string): number | undefined {
  const nums = text.trim().split(/\s+/).filter((s) => /^\d+$/.test(s));
  return nums.length ? round(Number(nums.at(-1)) / 1024) : undefined;
}

/** VmHWM (peak resident set) in MB from a /proc/<pid>/status text. */
export function parseVmHwm(status: string): number | undefined {
  const m = /^VmHWM:\s*(\d+)\s*kB/m.exec(status);
  return m ? round(Number(m[1]) / 1024) : undefined;
}

export function round(x: number, d = 1): number {
  return Math.round(x * 10 ** d) / 10 ** d;
}
