// npm run bench:quality: what the workspace index and the rest of the context pipeline are worth, with
// the embedded model (neox-code-23m). JSON on stdout.
// - retrieval: on the fixture workspace (154 files, 7 languages, the 42 hand-written queries of
//   test/fixtures/workspace-index/queries.json), recall@k (the expected file among the first k files
//   found) and MRR for vector, keyword (identifier-aware terms), hybrid (the product's search) and
//   LanceDB's plain full-text index over the raw text, overall and per kind of query, with misses;
// - line completion (line-completion.ts): through the real language server on real code no one here
//   wrote, exact match and edit similarity of the first suggested line at --lines sampled lines per
//   workspace (seed --seed), with the workspace index on, off, and cross-file context off.
//   npm run bench:quality -- [--quant int8] [--k 5] [--lines 70] [--seed 1] [--only retrieval|completion] [--workspace NAME]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLocalBackend } from '../engine/local/local-backend';
import type { Quantization } from '../engine/types';
import { stopDefinitionsWorker } from '../server/index/definitions';
import { indexRanker, loadQueries, localIndex, plainFullTextRanker, recall, writeFixture } from './index-lib';
import { CONFIGURATIONS, completeLines, copyWorkspace, sampleLines, score, WORKSPACES, type Configuration, type LineResult } from './line-completion';

const { values: args } = parseArgs({
  options: {
    quant: { type: 'string', default: 'int8' },
    k: { type: 'string', default: '5' },
    lines: { type: 'string', default: '70' },
    seed: { type: 'string', default: '1' },
    only: { type: 'string' },
    workspace: { type: 'string' },
  },
});
const tmp = mkdtempSync(join(tmpdir(), 'neox-bench-quality-'));

async function retrieval() {
  const k = Number(args.k);
  const backend = createLocalBackend({ modelDir: 'models/neox-code-23m', quant: args.quant as Quantization });
  writeFixture(join(tmp, 'ws'));
  const index = localIndex(backend, join(tmp, 'ws'), join(tmp, 'index'));
  void index.start();
  await index.whenIdle();
  const queries = loadQueries();
  const modes: Record<string, unknown> = {};
  for (const mode of ['vector', 'keyword', 'hybrid'] as const) modes[mode] = summary(await recall(queries, indexRanker(index, mode), k));
  const plain = await plainFullTextRanker(join(tmp, 'index'));
  modes['plain-full-text'] = summary(await recall(queries, plain.rank, k));
  plain.close();
  const out = { k, queries: queries.length, files: index.current.files, chunks: index.current.chunks, modes };
  await index.dispose();
  await backend.dispose();
  await stopDefinitionsWorker();
  return out;
}

function summary(r: Awaited<ReturnType<typeof recall>>) {
  return { recallAtK: Math.round(r.recall * 1000) / 1000, mrr: Math.round(r.mrr * 1000) / 1000, byKind: r.byKind, missed: r.missed };
}

async function lineCompletion() {
  const t0 = performance.now();
  const workspaces = [];
  const all: Record<Configuration, { samples: ReturnType<typeof sampleLines>; suggestions: string[]; latenciesMs: number[]; promptTokens: number[] }> = {
    'index-on': { samples: [], suggestions: [], latenciesMs: [], promptTokens: [] },
    'index-off': { samples: [], suggestions: [], latenciesMs: [], promptTokens: [] },
    'cross-file-off': { samples: [], suggestions: [], latenciesMs: [], promptTokens: [] },
  };
  for (const [i, w] of WORKSPACES.entries()) {
    if (args.workspace && !w.name.includes(args.workspace)) continue;
    const dir = copyWorkspace(w, join(tmp, `code-${i}`));
    if (!dir) {
      workspaces.push({ name: w.name, origin: w.origin, skipped: `${w.source} is not on this machine` });
      continue;
    }
    const samples = sampleLines(dir, Number(args.lines), Number(args.seed));
    const byConfiguration: Partial<Record<Configuration, LineResult>> = {};
    for (const configuration of Object.keys(CONFIGURATIONS) as Configuration[]) {
      process.stderr.write(`bench:quality: ${w.name}, ${samples.length} lines, ${configuration}\n`);
      const r = await completeLines(dir, samples, configuration, join(tmp, `storage-${i}`), { quantization: args.quant as Quantization });
      byConfiguration[configuration] = score(samples, r.suggestions, r.latenciesMs, r.promptTokens);
      const a = all[configuration];
      a.samples.push(...samples);
      a.suggestions.push(...r.suggestions);
      a.latenciesMs.push(...r.latenciesMs);
      a.promptTokens.push(...r.promptTokens);
    }
    workspaces.push({ name: w.name, origin: w.origin, files: new Set(samples.map((s) => s.path)).size, byConfiguration });
  }
  const overall = Object.fromEntries(Object.entries(all).map(([c, a]) => [c, score(a.samples, a.suggestions, a.latenciesMs, a.promptTokens)]));
  return {
    measured: 'first suggested line vs the real line (trimmed): exact match, edit similarity 1 - Levenshtein / longer length',
    settings: 'product defaults (greedy, maxTokens 64, contextBudget 1536), debounceMs 0; imports of the target file open beside it',
    configurations: CONFIGURATIONS,
    seed: Number(args.seed),
    linesPerWorkspace: Number(args.lines),
    overall,
    workspaces,
    seconds: Math.round((performance.now() - t0) / 1000),
  };
}

async function main() {
  const out: Record<string, unknown> = { date: new Date().toISOString(), model: 'neox-code-23m', quantization: args.quant };
  if (args.only !== 'completion') out.retrieval = await retrieval();
  if (args.only !== 'retrieval') out.lineCompletion = await lineCompletion();
  console.log(JSON.stringify(out, null, 2));
}

main()
  .catch((e: unknown) => {
    console.error(`bench:quality failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 1;
  })
  .finally(() => rmSync(tmp, { recursive: true, force: true }));
