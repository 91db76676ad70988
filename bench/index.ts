// npm run bench:index: the workspace index with the embedded model (int8 unless --quant), as the
// language server builds it. For the fixture workspace (154 files, 7 languages) and optionally a
// synthetic one of --synthetic N files (copies of the fixture, each file made unique): build time,
// files and chunks per second, index size on disk, a reopen of the unchanged index (resume cost),
// query latency p50/p95 per search mode (the 42 fixture queries, 3 rounds), and the latency of a
// 16-token completion idle against while the index builds (the build waiting on each completion as
// the server's does). JSON on stdout, progress on stderr. Not a benchmark for a busy machine.
//   npm run bench:index -- [--synthetic 5000] [--quant int8] [--completions 20]
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLocalBackend, type LocalBackend } from '../engine/local/local-backend';
import type { Quantization } from '../engine/types';
import type { SearchMode } from '../protocol/index';
import { stopDefinitionsWorker } from '../server/index/definitions';
import { loadQueries, localIndex, percentile, writeFixture } from './index-lib';

const { values: args } = parseArgs({
  options: {
    synthetic: { type: 'string' },
    quant: { type: 'string', default: 'int8' },
    completions: { type: 'string', default: '20' },
  },
});
const log = (m: string) => process.stderr.write(`bench:index ${m}\n`);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const tmp = mkdtempSync(join(tmpdir(), 'neox-bench-index-'));

/** Copies of the fixture until `files` source files, each file given a line of its own so no two hash alike. */
function synthetic(fixture: string, files: number, dir: string): void {
  const perCopy = countFiles(fixture);
  for (let i = 0; i * perCopy < files; i++) {
    const copy = join(dir, `copy-${i}`);
    cpSync(fixture, copy, { recursive: true });
    for (const f of listFiles(copy)) if (/\.(ts|py|go|rs|java|rb|c)$/.test(f)) writeFileSync(f, readFileSync(f, 'utf8') + `\n// copy ${i}\n`);
  }
}
function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name));
}
const countFiles = (dir: string) => listFiles(dir).filter((f) => /\.(ts|py|go|rs|java|rb|c)$/.test(f)).length;
const dirBytes = (dir: string) => listFiles(dir).reduce((n, f) => n + statSync(f).size, 0);

async function build(backend: LocalBackend, workspace: string, name: string, busy?: () => boolean) {
  const dir = join(tmp, `index-${name}`);
  const index = localIndex(backend, workspace, dir, busy);
  const t0 = performance.now();
  void index.start();
  await index.whenIdle();
  const seconds = (performance.now() - t0) / 1000;
  const { files, chunks } = index.current;
  log(`${name}: ${files} files, ${chunks} chunks in ${round(seconds)} s`);
  return { index, dir, seconds, files, chunks };
}

async function queryLatency(index: Awaited<ReturnType<typeof build>>['index']) {
  const queries = loadQueries();
  const out: Record<string, { p50Ms: number; p95Ms: number }> = {};
  for (const mode of ['keyword', 'vector', 'hybrid'] as SearchMode[]) {
    const ms: number[] = [];
    for (let round_ = 0; round_ < 3; round_++) {
      for (const q of queries) {
        const t0 = performance.now();
        await index.search(q.query, { k: 5, mode });
        ms.push(performance.now() - t0);
      }
    }
    out[mode] = { p50Ms: round(percentile(ms, 50)), p95Ms: round(percentile(ms, 95)) };
  }
  return out;
}

/** `n` 16-token completions one after another; their latencies. */
async function completions(backend: LocalBackend, n: number, completing: { count: number }): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    completing.count++;
    try {
      await backend.complete({ prompt: `def handler_${i}(request):\n    `, maxTokens: 16, temperature: 0 });
    } finally {
      completing.count--;
    }
    ms.push(performance.now() - t0);
    // A user pauses between suggestions: the index gets its turn in between.
    await new Promise((r) => setTimeout(r, 100));
  }
  return ms;
}

async function main() {
  const backend = createLocalBackend({ modelDir: 'models/neox-code-23m', quant: args.quant as Quantization });
  await backend.load();
  const fixture = join(tmp, 'fixture');
  writeFixture(fixture);
  const result: Record<string, unknown> = { date: new Date().toISOString(), cpus: cpus().length, cpu: cpus()[0]?.model, quantization: args.quant };

  const built = await build(backend, fixture, 'fixture');
  const queries = await queryLatency(built.index);
  await built.index.dispose();
  const reopened = await build(backend, fixture, 'fixture');
  await reopened.index.dispose();
  result.fixture = {
    files: built.files,
    chunks: built.chunks,
    buildSeconds: round(built.seconds),
    filesPerSecond: round(built.files / built.seconds),
    chunksPerSecond: round(built.chunks / built.seconds),
    indexBytes: dirBytes(built.dir),
    reopenUnchangedSeconds: round(reopened.seconds, 2),
    queryLatency: queries,
  };

  // Completion latency idle, then while a fresh build runs and waits on each completion (as in the server).
  const n = Number(args.completions);
  const completing = { count: 0 };
  const idle = await completions(backend, n, completing);
  const buildDuring = build(backend, fixture, 'during', () => completing.count > 0);
  const during = await completions(backend, n, completing);
  await (await buildDuring).index.dispose();
  result.completionLatency = {
    completions: n,
    idle: { p50Ms: round(percentile(idle, 50)), p95Ms: round(percentile(idle, 95)) },
    whileIndexing: { p50Ms: round(percentile(during, 50)), p95Ms: round(percentile(during, 95)) },
  };

  if (args.synthetic) {
    const ws = join(tmp, 'synthetic');
    synthetic(fixture, Number(args.synthetic), ws);
    const s = await build(backend, ws, 'synthetic');
    const q = await queryLatency(s.index);
    await s.index.dispose();
    result.synthetic = {
      files: s.files,
      chunks: s.chunks,
      buildSeconds: round(s.seconds),
      filesPerSecond: round(s.files / s.seconds),
      chunksPerSecond: round(s.chunks / s.seconds),
      indexBytes: dirBytes(s.dir),
      queryLatency: q,
    };
  }
  await backend.dispose();
  await stopDefinitionsWorker();
  console.log(JSON.stringify(result, null, 2));
}

main()
  .catch((e: unknown) => {
    console.error(`bench:index failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 1;
  })
  .finally(() => rmSync(tmp, { recursive: true, force: true }));
