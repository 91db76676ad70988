/**
 * `npm run bench:serve`: throughput and latency of `neox serve` (the real CLI, default model,
 * default quantization) driven through the OpenAI adapter the extension uses, streaming.
 * Prompts are distinct code prefixes from the held-out eval set (no two share a prefix, so the
 * engine's prefix cache does not flatter the numbers). Prints one JSON object on stdout; progress
 * on stderr. Two scenarios (--scenario levels,mixed, both by default):
 *
 * - levels: 1, 4 and 16 concurrent clients, each sending short requests one after another.
 * - mixed: one fixed workload, a long stream of --long-tokens (1,500), one with n=8 of --n8-tokens
 *   (1,000) and --short-requests (40) short requests of 4-16 tokens sent by --short-clients (2) clients
 *   one after another, all starting together. Reports the short requests' p50/p95 latency on the idle
 *   server and while the long streams run (and the ratio of the p50s: the target is 2 or less), and
 *   the workload's tokens/s (generated, and with the prompts) from start to the last answer: the same
 *   work under any scheduler, so runs of different versions compare.
 *
 *   flock /tmp/neox-bench.lock npm run bench:serve [-- --quant int8 --max-tokens 16 --requests 48 --batch 4]
 *   npm run bench:serve -- --scenario mixed --long-tokens 200 --n8-tokens 100   (a short smoke run)
 *
 * --batch is `neox serve --batch`: how many requests the engine runs as one continuous batch.
 * Measure on an idle machine: the figures are CPU time shared with nothing else.
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { createRemoteBackend } from '../engine/remote/index';
import type { CompletionBackend } from '../engine/types';
import { startServeProcess } from '../test/remote/serve-process';
import { evalPrompts, pct, r1, seededRandom } from './serve-lib';

const { values } = parseArgs({
  options: {
    quant: { type: 'string', default: 'int8' },
    'max-tokens': { type: 'string', default: '16' },
    requests: { type: 'string', default: '48' },
    concurrency: { type: 'string', default: '1,4,16' },
    batch: { type: 'string', default: '4' },
    scenario: { type: 'string', default: 'levels,mixed' },
    'long-tokens': { type: 'string', default: '1500' },
    'n8-tokens': { type: 'string', default: '1000' },
    'short-clients': { type: 'string', default: '2' },
    'short-requests': { type: 'string', default: '40' },
  },
});
const maxTokens = Number(values['max-tokens']);
const perLevel = Number(values.requests);
const levels = values.concurrency!.split(',').map(Number);
const scenarios = new Set(values.scenario!.split(','));
for (const s of scenarios) if (s !== 'levels' && s !== 'mixed') throw new Error(`--scenario takes levels and/or mixed (got ${s})`);
const shortClients = Number(values['short-clients']);
const shortRequests = Number(values['short-requests']);

const prompts = evalPrompts(600);
let next = 0;
const take = () => prompts[next++ % prompts.length]!;
const log = (m: string) => process.stderr.write(`bench:serve: ${m}\n`);

const t0 = performance.now();
const serve = await startServeProcess([
  '--quant',
  values.quant!,
  '--quiet',
  '--batch',
  values.batch!,
  '--max-queue',
  String(Math.max(...levels, shortClients + 2)),
]);
log(`neox serve up at ${serve.url} after ${Math.round(performance.now() - t0)} ms`);
const client = createRemoteBackend({ kind: 'openai', url: serve.url, maxRetries: 0, firstTokenTimeoutMs: 300000 });
const info = await client.load();
// Warm-up: first requests pay one-off costs (session warm-up, JIT).
for (let i = 0; i < 2; i++) await client.complete({ prompt: take(), maxTokens, temperature: 0 }, () => {});

/** One short streamed request: its latency and tokens (generated, prompt). */
async function short(c: CompletionBackend, tokens: number): Promise<{ ms: number; tokens: number; promptTokens: number; firstTokenMs?: number }> {
  const t = performance.now();
  const r = await c.complete({ prompt: take(), maxTokens: tokens, temperature: 0 }, () => {});
  return { ms: performance.now() - t, tokens: r.usage.completionTokens, promptTokens: r.usage.promptTokens, firstTokenMs: r.timings?.firstTokenMs };
}

async function levelsScenario() {
  const rows = [];
  for (const c of levels) {
    const latencies: number[] = [];
    const firstToken: number[] = [];
    let tokens = 0;
    let failed = 0;
    let issued = 0;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: c }, async () => {
        while (issued < perLevel) {
          issued++;
          try {
            const r = await short(client, maxTokens);
            latencies.push(r.ms);
            if (r.firstTokenMs !== undefined) firstToken.push(r.firstTokenMs);
            tokens += r.tokens;
          } catch (e) {
            failed++;
            log(`request failed: ${(e as Error).message}`);
          }
        }
      }),
    );
    const wall = (performance.now() - start) / 1000;
    const row = {
      concurrency: c,
      requests: latencies.length,
      failed,
      requestsPerSecond: r1(latencies.length / wall),
      tokensPerSecond: r1(tokens / wall),
      latencyMs: { p50: r1(pct(latencies, 50)), p95: r1(pct(latencies, 95)), max: r1(Math.max(...latencies)) },
      firstTokenMs: { p50: r1(pct(firstToken, 50)), p95: r1(pct(firstToken, 95)) },
    };
    log(JSON.stringify(row));
    rows.push(row);
  }
  return rows;
}

async function mixedScenario() {
  const random = seededRandom(12);
  const shortTokens = () => 4 + Math.floor(random() * 13); // 4..16
  // Idle: the short requests alone, one after another.
  const idle: number[] = [];
  for (let i = 0; i < 12; i++) idle.push((await short(client, shortTokens())).ms);
  log(`mixed: idle short p50 ${r1(pct(idle, 50))} ms`);

  const longTokens = Number(values['long-tokens']);
  const n8Tokens = Number(values['n8-tokens']);
  const start = performance.now();
  let generated = 0;
  let prompted = 0;
  const longRun = async (n: number, tokens: number) => {
    const t = performance.now();
    const r = await client.complete({ prompt: take(), maxTokens: tokens, n, temperature: 0 }, () => {});
    generated += r.usage.completionTokens;
    prompted += r.usage.promptTokens;
    return { n, maxTokens: tokens, tokens: r.usage.completionTokens, ms: Math.round(performance.now() - t) };
  };
  let longDone = false;
  const longs = Promise.all([longRun(1, longTokens), longRun(8, n8Tokens)]).finally(() => (longDone = true));
  const loaded: number[] = [];
  const after: number[] = [];
  let issued = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: shortClients }, async () => {
      while (issued < shortRequests) {
        issued++;
        const beside = !longDone;
        try {
          const r = await short(client, shortTokens());
          // "Under load": sent and answered while the long streams ran.
          (beside && !longDone ? loaded : after).push(r.ms);
          generated += r.tokens;
          prompted += r.promptTokens;
        } catch (e) {
          failed++;
          log(`mixed: short request failed: ${(e as Error).message}`);
        }
      }
    }),
  );
  const long = await longs;
  const wall = (performance.now() - start) / 1000;
  const result = {
    shortTokens: '4-16',
    idleMs: { p50: r1(pct(idle, 50)), p95: r1(pct(idle, 95)) },
    underLoadMs: { requests: loaded.length, failed, p50: r1(pct(loaded, 50)), p95: r1(pct(loaded, 95)), max: r1(Math.max(...loaded)) },
    afterLoadRequests: after.length,
    p50Ratio: r1(pct(loaded, 50) / pct(idle, 50)),
    long,
    generatedTokensPerSecond: r1(generated / wall),
    allTokensPerSecond: r1((generated + prompted) / wall),
    wallSeconds: r1(wall),
  };
  log(`mixed: ${JSON.stringify(result)}`);
  return result;
}

const out: Record<string, unknown> = {
  bench: 'serve',
  model: info.id,
  quant: values.quant,
  maxTokens,
  batch: Number(values.batch),
  promptChars: 600,
  client: 'OpenAI adapter, streaming, loopback',
  cpus: cpus().length,
  node: process.version,
};
if (scenarios.has('levels')) out.results = await levelsScenario();
if (scenarios.has('mixed')) out.mixed = await mixedScenario();
await client.dispose();
await serve.stop();
console.log(JSON.stringify(out, null, 2));
