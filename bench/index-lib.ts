/**
 * What bench:index, bench:quality and the quality test share: the fixture workspace written into a
 * folder (its generator), the hand-written queries, an index built with the local engine exactly as
 * the language server builds it (same embedding options and identity), recall@k per search mode, and
 * the baseline the identifier-aware terms replace: LanceDB's own full-text index over the raw text.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import * as lancedb from '@lancedb/lancedb';
import type { LocalBackend } from '../engine/local/local-backend';
import type { SearchMode } from '../protocol/index';
import { indexEmbedOptions } from '../server/index/embedding';
import { WorkspaceIndex } from '../server/index/workspace-index';

export interface Query {
  kind: 'name' | 'behaviour' | 'fragment';
  query: string;
  /** The file the query should find. */
  expect: string;
}

export const FIXTURE_DIR = 'test/fixtures/workspace-index';

export function loadQueries(): Query[] {
  return (JSON.parse(readFileSync(`${FIXTURE_DIR}/queries.json`, 'utf8')) as { queries: Query[] }).queries;
}

/** Writes the fixture workspace into `dir` (deterministic: the committed shopfront/). */
export function writeFixture(dir: string): void {
  execFileSync(process.execPath, [`${FIXTURE_DIR}/generate.mjs`, dir]);
}

/** An index of `workspace` in `dir`, embedded by `backend` as the language server's local index embeds. */
export function localIndex(backend: LocalBackend, workspace: string, dir: string, busy: () => boolean = () => false): WorkspaceIndex {
  const options = indexEmbedOptions('local');
  return new WorkspaceIndex({
    folders: [pathToFileURL(workspace).href],
    dir,
    exclude: [],
    embedder: { identity: `bench|${JSON.stringify(options)}`, embed: (texts) => backend.embed(texts, options) },
    busy,
    onStatus: () => undefined,
    log: (m) => process.stderr.write(`${m}\n`),
  });
}

export interface Recall {
  /** Share of queries whose expected file is among the first k distinct files. */
  recall: number;
  /** Mean reciprocal rank of the expected file among the distinct files found (0 where it is not found). */
  mrr: number;
  byKind: Record<string, { found: number; of: number }>;
  missed: string[];
  latenciesMs: number[];
}

/** recall@k and MRR of `rank` (query -> ranked file paths) over `queries`. */
export async function recall(queries: Query[], rank: (q: string) => Promise<string[]>, k = 5): Promise<Recall> {
  const out: Recall = { recall: 0, mrr: 0, byKind: {}, missed: [], latenciesMs: [] };
  let found = 0;
  let reciprocalRanks = 0;
  for (const q of queries) {
    const t0 = performance.now();
    const paths = await rank(q.query);
    out.latenciesMs.push(performance.now() - t0);
    const files = [...new Set(paths)];
    const position = files.indexOf(q.expect);
    if (position >= 0) reciprocalRanks += 1 / (position + 1);
    const ok = position >= 0 && position < k;
    const kind = (out.byKind[q.kind] ??= { found: 0, of: 0 });
    kind.of++;
    if (ok) {
      found++;
      kind.found++;
    } else out.missed.push(q.query);
  }
  out.recall = found / queries.length;
  out.mrr = reciprocalRanks / queries.length;
  return out;
}

/** The index's own search in `mode`: chunks ranked, as file paths. */
export const indexRanker = (index: WorkspaceIndex, mode: SearchMode, depth = 20) => async (q: string) => (await index.search(q, { k: depth, mode })).map((h) => h.path);

/** LanceDB's default full-text index over the chunks' raw text (made here if missing): the plain keyword baseline. */
export async function plainFullTextRanker(dir: string, depth = 20): Promise<{ rank: (q: string) => Promise<string[]>; close(): void }> {
  const db = await lancedb.connect(dir);
  const table = await db.openTable('chunks');
  if (!(await table.listIndices()).some((i) => i.columns.includes('text'))) await table.createIndex('text', { config: lancedb.Index.fts() });
  return {
    // A query its parser refuses (a pasted fragment full of punctuation) finds nothing, as for a user.
    rank: async (q) =>
      (await table.query().fullTextSearch(q, { columns: ['text'] }).select(['path', '_score']).limit(depth).toArray().catch(() => [])).map((r) => r.path as string),
    close: () => db.close(),
  };
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? 0;
}
