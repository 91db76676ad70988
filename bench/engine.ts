// End-to-end local engine speed through the LocalBackend (tokenizer + ONNX runner + decoding),
// for the default model in fp32, int8 and int4. Prints JSON on stdout; progress on stderr.
// Each quantization runs in its own child process so that peak RSS is its own.
//   npm run bench:engine -- [--model DIR] [--quants fp32,int8,int4] [--threads N]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createLocalBackend, type LocalBackend } from '../engine/local/local-backend';
import { loadTokenizer } from '../engine/local/tokenizer';
import type { Quantization } from '../engine/local/runner';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/neox-code-23m' },
    quants: { type: 'string', default: 'fp32,int8,int4' },
    threads: { type: 'string' },
    child: { type: 'string' }, // internal: measure this one quantization
  },
});
const modelDir = resolve(args.model!);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const log = (m: string) => process.stderr.write(`bench:engine ${args.child ?? ''} ${m}\n`);

/** Prompts of exactly `n` tokens of real held-out code, starting at different files so none share a prefix. */
async function promptMaker() {
  const tok = await loadTokenizer(modelDir);
  const texts = readFileSync('test/fixtures/code-eval.jsonl', 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { text: string }).text);
  const pool = tok.encode(texts.join('\n'));
  let next = 0;
  return (n: number): string => {
    // Decoded slices can re-tokenize differently at the cut: trim until the text is exactly n tokens.
    for (;;) {
      let ids = pool.slice(next, next + n + 8);
      next = (next + 4099) % (pool.length - 2000);
      let text = tok.decode(ids);
      for (let k = n + 8; k > 0 && tok.encode(text).length > n; k--) text = tok.decode((ids = ids.slice(0, k - 1)));
      if (tok.encode(text).length === n && !text.includes('\uFFFD')) return text;
    }
  };
}

async function measure(quant: Quantization) {
  const cacheDir = mkdtempSync(join(tmpdir(), 'neox-bench-engine-'));
  const threads = args.threads ? Number(args.threads) : undefined;
  const make = () => createLocalBackend({ modelDir, quant, cacheDir, threads });
  try {
    let t0 = performance.now();
    const cold = make();
    await cold.load((p) => log(`${p.stage}${p.fraction !== undefined ? ` ${Math.round(p.fraction * 100)}%` : ''}: ${p.message}`));
    const coldLoadMs = performance.now() - t0;
    await cold.dispose();
    t0 = performance.now();
    const backend: LocalBackend = make();
    await backend.load();
    const cachedLoadMs = performance.now() - t0;
    const prompt = await promptMaker();
    await backend.complete({ prompt: prompt(64), maxTokens: 4 }); // warm-up (first-run allocations)

    const ttft: Record<string, number> = {};
    const prefill: Record<string, number> = {};
    for (const n of [128, 512, 1024]) {
      const runs: number[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await backend.complete({ prompt: prompt(n), maxTokens: 1 });
        if (r.timings!.promptTokensReused) throw new Error('bench prompts unexpectedly share a prefix');
        runs.push(r.timings!.firstTokenMs!);
      }
      ttft[n] = round(median(runs));
      prefill[n] = round((n / median(runs)) * 1000);
      log(`ttft ${n}: ${ttft[n]} ms`);
    }

    // Decode speed: 128 sampled tokens after a 128-token prompt (sampling avoids early EOS loops).
    const decodeRuns: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await backend.complete({ prompt: prompt(128), maxTokens: 128, temperature: 0.8, seed: i });
      const toks = r.usage.completionTokens;
      decodeRuns.push(((toks - 1) / (r.timings!.totalMs! - r.timings!.firstTokenMs!)) * 1000);
    }
    const decodeTokS = round(median(decodeRuns));
    log(`decode: ${decodeTokS} tok/s`);

    // Prefix-cache hit: same 1000-token prompt plus a few typed characters, vs the same cold.
    const hit: { coldMs: number; hitMs: number; reused: number }[] = [];
    for (let i = 0; i < 3; i++) {
      const base = prompt(1000);
      const typed = base + '\n    if (x';
      await backend.complete({ prompt: prompt(32), maxTokens: 1 }); // something else in the cache
      const c = await backend.complete({ prompt: typed, maxTokens: 1 });
      await backend.complete({ prompt: prompt(32), maxTokens: 1 });
      await backend.complete({ prompt: base, maxTokens: 8 }); // the user pauses: base is now cached
      const h = await backend.complete({ prompt: typed, maxTokens: 1 });
      hit.push({ coldMs: c.timings!.firstTokenMs!, hitMs: h.timings!.firstTokenMs!, reused: h.timings!.promptTokensReused! });
    }
    const coldMs = median(hit.map((x) => x.coldMs));
    const hitMs = median(hit.map((x) => x.hitMs));
    await backend.dispose();
    return {
      quant,
      loadColdMs: round(coldLoadMs),
      loadCachedMs: round(cachedLoadMs),
      firstTokenMs: ttft,
      prefillTokS: prefill,
      decodeTokS,
      prefixHit: {
        promptTokens: 1000,
        reusedTokens: median(hit.map((x) => x.reused)),
        coldFirstTokenMs: round(coldMs),
        hitFirstTokenMs: round(hitMs),
        speedup: round(coldMs / hitMs),
      },
      peakRssMB: round(process.resourceUsage().maxRSS / 1024),
    };
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

if (args.child) {
  const result = await measure(args.child as Quantization).catch((e: Error) => ({ quant: args.child, error: e.message.split('\n')[0] }));
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
} else {
  const self = fileURLToPath(import.meta.url);
  const results = [];
  for (const quant of args.quants!.split(',')) {
    const extra = [...(args.threads ? ['--threads', args.threads] : [])];
    const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', quant, '--model', modelDir, ...extra], {
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
    });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    try {
      results.push(JSON.parse(line));
    } catch {
      results.push({ quant, error: `benchmark process exited with ${r.status ?? r.signal}` });
    }
  }
  const cpus = (await import('node:os')).cpus();
  console.log(
    JSON.stringify(
      { model: modelDir, machine: { cpus: cpus.length, cpu: cpus[0]?.model, node: process.version }, results },
      null,
      2,
    ),
  );
}
