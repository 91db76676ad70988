/**
 * The pure parts of `npm run bench:peer` (bench/peer-lib.ts): llama-bench's JSON output, the ratios
 * between the two sides, /proc/cpuinfo, peak-RSS readings and where llama-bench lives in a build folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
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
} from '../../bench/peer-lib';

// Trimmed from a real `llama-bench -m neox-Q8_0.gguf -t 2 -p 512 -n 128 -r 3 -o json` (build c392e5094dea).
const row = (n_prompt: number, n_gen: number, avg_ts: number, stddev_ts: number, samples_ts: number[]) => ({
  build_commit: 'c392e509',
  build_number: 4753,
  cpu_info: 'AMD EPYC',
  gpu_info: '',
  backends: 'CPU',
  model_filename: '/x/.cache/peer/neox-code-23m-Q8_0.gguf',
  model_type: 'gptneox ?B Q8_0',
  model_size: 24365568,
  model_n_params: 22876032,
  n_batch: 2048,
  n_ubatch: 512,
  n_threads: 2,
  use_mmap: true,
  n_prompt,
  n_gen,
  test_time: '2026-11-30T00:41:01Z',
  avg_ns: 1,
  stddev_ns: 0,
  avg_ts,
  stddev_ts,
  samples_ns: samples_ts.map(() => 1),
  samples_ts,
});
const json = JSON.stringify([row(512, 0, 2935.123456, 12.345678, [2920.1, 2935.2, 2950.0]), row(0, 128, 361.04, 1.5, [359.5, 361, 362.6])], null, 2);

test('parseLlamaBench: -o json array, prefill and decode rows', () => {
  const r = parseLlamaBench(json);
  assert.deepEqual(r.prefill, { tokens: 512, tokS: 2935.12, stddev: 12.35, samples: [2920.1, 2935.2, 2950] });
  assert.deepEqual(r.decode, { tokens: 128, tokS: 361.04, stddev: 1.5, samples: [359.5, 361, 362.6] });
  assert.equal(r.threads, 2);
  assert.deepEqual(r.build, { commit: 'c392e509', number: 4753 });
  assert.equal(r.modelType, 'gptneox ?B Q8_0');
  assert.equal(r.modelSizeMB, 23.2);
});

test('parseLlamaBench: jsonl, a log line before the JSON, order and extra rows do not matter', () => {
  const rows = [row(0, 16, 380, 0, [380]), row(64, 0, 3860.2, 0, [3860.2]), row(128, 0, 1, 0, [1])];
  const r = parseLlamaBench(`warning: something\n${rows.map((x) => JSON.stringify(x)).join('\n')}\n`);
  assert.equal(r.prefill?.tokens, 64);
  assert.equal(r.prefill?.tokS, 3860.2);
  assert.equal(r.decode?.tokens, 16);
  assert.equal(r.decode?.tokS, 380);
  const arr = parseLlamaBench(`load_backend: x\n${JSON.stringify(rows)}\n`);
  assert.equal(arr.prefill?.tokS, 3860.2);
});

test('parseLlamaBench: a test missing is left out, no results is an error', () => {
  const r = parseLlamaBench(JSON.stringify([row(512, 0, 100, 1, [100])]));
  assert.equal(r.decode, undefined);
  assert.equal(r.prefill?.tokS, 100);
  assert.throws(() => parseLlamaBench(''), /no test results/);
  assert.throws(() => parseLlamaBench('[]'), /no test results/);
});

test('ratios: tokens/s ours / llama.cpp, peak RSS llama.cpp / ours, missing sides left out', () => {
  assert.deepEqual(
    ratios({ prefillTokS: 5962, decodeTokS: 157, peakRssMB: 510 }, { prefillTokS: 2935, decodeTokS: 361, peakRssMB: 120 }),
    { prefill: 2.03, decode: 0.43, rss: 0.24 },
  );
  assert.deepEqual(ratios({ prefillTokS: 202, decodeTokS: 23.2, peakRssMB: 1789 }, { prefillTokS: 109, decodeTokS: 34.2, peakRssMB: 457 }), {
    prefill: 1.85,
    decode: 0.68,
    rss: 0.26,
  });
  assert.deepEqual(ratios({ decodeTokS: 100 }, { prefillTokS: 10, decodeTokS: 50 }), { decode: 2 });
  assert.deepEqual(ratios({ prefillTokS: 10, peakRssMB: 0 }, {}), {});
});

test('meanStd: mean and sample standard deviation like llama-bench', () => {
  assert.deepEqual(meanStd([5]), { mean: 5, stddev: 0 });
  const { mean, stddev } = meanStd([2, 4, 4, 4, 5, 5, 7, 9]);
  assert.equal(mean, 5);
  assert.ok(Math.abs(stddev - 2.138) < 1e-3);
});

test('parseCpuInfo: model name and SIMD flags (x86 and ARM)', () => {
  const x86 = 'processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\nflags\t\t: fpu sse2 avx2 fma avx512f avx512bw avx512_vnni amx_int8\n\nprocessor\t: 1\nmodel name\t: other\n';
  const c = parseCpuInfo(x86);
  assert.equal(c.model, 'Intel(R) Xeon(R) Platinum 8480+');
  assert.equal(c.flags.avx2, true);
  assert.equal(c.flags.avx512_vnni, true);
  assert.equal(c.flags.avx_vnni, false);
  assert.equal(c.flags.avx512vl, false);
  const amd = parseCpuInfo('model name\t: AMD EPYC\nflags\t\t: sse avx avx2 fma f16c\n');
  assert.equal(amd.flags.avx2, true);
  assert.equal(amd.flags.avx512f, false);
  const arm = parseCpuInfo('processor\t: 0\nFeatures\t: fp asimd asimddp i8mm\nCPU part\t: 0xd0c\n');
  assert.equal(arm.flags.asimddp, true);
  assert.equal(arm.flags.sve, false);
  assert.equal(arm.flags.avx2, undefined);
});

test('peak RSS readings: /usr/bin/time -f %M and /proc status VmHWM, in MB (KiB / 1024)', () => {
  assert.equal(parseTimeMaxRss('467968\n'), 457);
  assert.equal(parseTimeMaxRss('Command exited with non-zero status 1\n1024\n'), 1);
  assert.equal(parseTimeMaxRss(''), undefined);
  assert.equal(parseVmHwm('Name:\tllama-bench\nVmPeak:\t  900000 kB\nVmHWM:\t  446464 kB\nVmRSS:\t 1 kB\n'), 436);
  assert.equal(parseVmHwm('Name:\tx\n'), undefined);
});

test('llama.cpp build folders and the precision pairs', () => {
  assert.deepEqual(llamaBenchCandidates('/b'), ['/b/bin/llama-bench', '/b/llama-bench', '/b/build/bin/llama-bench']);
  assert.equal(loadedCpuBackend('load_backend: loaded CPU backend from /x/bin/libggml-cpu-icelake.so\n'), 'libggml-cpu-icelake.so');
  assert.equal(loadedCpuBackend('nothing'), undefined);
  assert.deepEqual(GGUF_TYPE, { fp32: 'F32', int8: 'Q8_0', int4: 'Q4_0' });
});
