// Model-runner speed (the ONNX half of the local engine, no tokenizer/decoding): load time cold and
// cached, time to first token and prefill speed for 128/512/1024-token prompts, decode speed, a
// prefix-cache hit, peak RSS. Prints JSON.
//   npm run bench:runner -- [--model DIR] [--quant fp32|int8|int4] [--threads N]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadRunner } from '../engine/local/load';
import type { Quantization } from '../engine/local/runner';

const { values: args } = parseArgs({
  options: { model: { type: 'string', default: 'models/neox-code-23m' }, quant: { type: 'string', default: 'fp32' }, threads: { type: 'string' } },
});
const quant = args.quant as Quantization;
const threads = args.threads ? Number(args.threads) : undefined;
const cacheDir = mkdtempSync(join(tmpdir(), 'neox-bench-'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
// Real code tokens (the reference prompts, concatenated) so attention sees realistic input.
const ref = JSON.parse(readFileSync('test/fixtures/neox-code-23m-reference.json', 'utf8'));
const pool: number[] = ref.greedy.flatMap((g: { input_ids: number[] }) => g.input_ids);
while (pool.length < 1100) pool.push(...pool);
const vocab = JSON.parse(readFileSync(join(args.model!, 'config.json'), 'utf8')).vocab_size as number;
const tokens = (n: number, from = 0) => pool.slice(from, from + n).map((t) => t % vocab);

let t0 = performance.now();
const cold = await loadRunner({ modelDir: args.model!, quant, cacheDir, threads }, (p) =>
  process.stderr.write(`\r${p.stage}: ${p.message}${p.fraction !== undefined ? ` ${Math.round(p.fraction * 100)}%` : ''}\x1b[K`),
);
const coldLoadMs = performance.now() - t0;
process.stderr.write('\n');
await cold.dispose();
t0 = performance.now();
const runner = await loadRunner({ modelDir: args.model!, quant, cacheDir, threads });
const cachedLoadMs = performance.now() - t0;

const time = async (f: () => Promise<unknown>) => {
  const s = performance.now();
  await f();
  return performance.now() - s;
};
// Warm-up (first runs allocate onnxruntime's arenas).
runner.reset(1);
await runner.forward([tokens(64)]);

const prompts: Record<string, { ttftMs: number; prefillTokPerS: number }> = {};
for (const n of [128, 512, 1024]) {
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    runner.reset(1);
    runs.push(await time(() => runner.forward([tokens(n, i)])));
  }
  prompts[n] = { ttftMs: round(median(runs)), prefillTokPerS: round((n / median(runs)) * 1000) };
}

// Decode: one token at a time after a 512-token prompt.
runner.reset(1);
await runner.forward([tokens(512)]);
const steps: number[] = [];
for (let i = 0; i < 64; i++) steps.push(await time(() => runner.forward([[tokens(1, 600 + i)[0]]])));
const decodeMs = median(steps);

// Prefix-cache hit: a 1000-token prompt, then the same prompt plus 4 typed tokens.
const base = tokens(1000);
const typed = tokens(4, 1000);
const coldRuns: number[] = [];
const hitRuns: number[] = [];
for (let i = 0; i < 3; i++) {
  runner.reset(1);
  coldRuns.push(await time(() => runner.forward([[...base, ...typed]])));
  runner.truncate(1000);
  hitRuns.push(await time(() => runner.forward([typed])));
}

const result = {
  model: args.model,
  quant,
  threads: runner.info.summary.threads,
  loadMs: { cold: round(coldLoadMs), cached: round(cachedLoadMs) },
  prompts,
  decode: { msPerToken: round(decodeMs, 2), tokPerS: round(1000 / decodeMs), context: 512 },
  prefixHit: { coldTtftMs: round(median(coldRuns)), hitTtftMs: round(median(hitRuns), 2), speedup: round(median(coldRuns) / median(hitRuns)) },
  peakRssMB: round(process.resourceUsage().maxRSS / 1024),
};
await runner.dispose();
rmSync(cacheDir, { recursive: true, force: true });
console.log(JSON.stringify(result, null, 2));
