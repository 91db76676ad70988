// npm run bench:quality: retrieval quality of the workspace index on the fixture workspace (154 files,
// 7 languages, the 42 hand-written queries of test/fixtures/workspace-index/queries.json) with the
// embedded model: recall@5 (the expected file among the first 5 files found) for vector, keyword
// (identifier-aware terms), hybrid (the product's search) and LanceDB's plain full-text index over the
// raw text, overall and per kind of query, with the queries each missed. JSON on stdout.
//   npm run bench:quality -- [--quant int8] [--k 5]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLocalBackend } from '../engine/local/local-backend';
import type { Quantization } from '../engine/types';
import { stopDefinitionsWorker } from '../server/index/definitions';
import { indexRanker, loadQueries, localIndex, plainFullTextRanker, recall, writeFixture } from './index-lib';

const { values: args } = parseArgs({ options: { quant: { type: 'string', default: 'int8' }, k: { type: 'string', default: '5' } } });
const tmp = mkdtempSync(join(tmpdir(), 'neox-bench-quality-'));

async function main() {
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
  const out = { date: new Date().toISOString(), model: 'neox-code-23m', quantization: args.quant, k, queries: queries.length, files: index.current.files, chunks: index.current.chunks, recall: modes };
  await index.dispose();
  await backend.dispose();
  await stopDefinitionsWorker();
  console.log(JSON.stringify(out, null, 2));
}

function summary(r: Awaited<ReturnType<typeof recall>>) {
  return { recallAtK: Math.round(r.recall * 1000) / 1000, byKind: r.byKind, missed: r.missed };
}

main()
  .catch((e: unknown) => {
    console.error(`bench:quality failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 1;
  })
  .finally(() => rmSync(tmp, { recursive: true, force: true }));
