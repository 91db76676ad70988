/**
 * `npm run bench:serve`: throughput and latency of `neox serve` (the real CLI, default model,
 * default quantization) driven through the OpenAI adapter the extension uses, streaming, for
 * 1, 4 and 16 concurrent clients. Prompts are distinct code prefixes from the held-out eval set
 * (no two share a prefix, so the engine's prefix cache does not flatter the numbers).
 * Prints one JSON object on stdout; progress on stderr.
 *
 *   flock /tmp/neox-bench.lock npm run bench:serve [-- --quant int8 --max-tokens 16 --requests 48 --batch 4]
 *
 * --batch is `neox serve --batch`: how many waiting requests the engine generates together.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { createRemoteBackend } from '../engine/remote/index';
import { startServeProcess } from '../test/remote/serve-process';

const { values } = parseArgs({
  options: {
    quant: { type: 'string', default: 'int8' },
    'max-tokens': { type: 'string', default: '16' },
    requests: { type: 'string', default: '48' },
    concurrency: { type: 'string', default: '1,4,16' },
    batch: { type: 'string', default: '4' },
  },
});
const maxTokens = Number(values['max-tokens']);
const perLevel = Number(values.requests);
const levels = values.concurrency!.split(',').map(Number);

const prompts = readFileSync(new URL('../test/fixtures/code-eval.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => (JSON.parse(l) as { text: string }).text)
  .filter((t) => t.length >= 600)
  .map((t) => t.slice(0, 600));

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const r1 = (x: number) => Math.round(x * 10) / 10;

const t0 = performance.now();
const serve = await startServeProcess(['--quant', values.quant!, '--quiet', '--batch', values.batch!, '--max-queue', String(Math.max(...levels))]);
process.stderr.write(`bench:serve: neox serve up at ${serve.url} after ${Math.round(performance.now() - t0)} ms\n`);
const client = createRemoteBackend({ kind: 'openai', url: serve.url, maxRetries: 0, firstTokenTimeoutMs: 120000 });
const info = await client.load();

let next = 0;
const take = () => prompts[next++ % prompts.length];
// Warm-up: first requests pay one-off costs (session warm-up, JIT).
for (let i = 0; i < 2; i++) await client.complete({ prompt: take(), maxTokens, temperature: 0 }, () => {});

const results = [];
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
        const t = performance.now();
        try {
          const r = await client.complete({ prompt: take(), maxTokens, temperature: 0 }, () => {});
          latencies.push(performance.now() - t);
          if (r.timings?.firstTokenMs !== undefined) firstToken.push(r.timings.firstTokenMs);
          tokens += r.usage.completionTokens;
        } catch (e) {
          failed++;
          process.stderr.write(`bench:serve: request failed: ${(e as Error).message}\n`);
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
  process.stderr.write(`bench:serve: ${JSON.stringify(row)}\n`);
  results.push(row);
}
await client.dispose();
await serve.stop();

console.log(
  JSON.stringify(
    {
      bench: 'serve',
      model: info.id,
      quant: values.quant,
      maxTokens,
      batch: Number(values.batch),
      promptChars: 600,
      client: 'OpenAI adapter, streaming, loopback',
      cpus: cpus().length,
      node: process.version,
      results,
    },
    null,
    2,
  ),
);
