/**
 * The index on disk: a LanceDB database in the workspace's storage folder with two tables, `chunks`
 * (vector, text, identifier terms, location) and `files` (what each indexed file was: hash, size,
 * mtime, chunk count), and meta.json naming the embedder and vector size it was built with.
 *
 * Consistency across a kill at any point: a file's record is written only after its chunks, and it
 * is removed before they are; so after a restart a file either has its record and exactly its
 * chunks, or no record (and is indexed again, its leftover chunks deleted first). Each LanceDB write
 * is an atomic commit of a new table version.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { Field, FixedSizeList, Float32, Float64, Int32, Schema, Utf8 } from 'apache-arrow';

/** Bumped when the tables or the chunking change: an index of another version is rebuilt. */
export const STORE_VERSION = 1;
const META = 'meta.json';

export interface IndexMeta {
  version: number;
  /** Which model made the vectors (backend, model, precision, pooling): another one means another space. */
  embedder: string;
  dims: number;
}

export interface ChunkRow {
  path: string;
  startLine: number;
  endLine: number;
  name: string;
  text: string;
  /** identifierTerms of the path, the name and the text (identifiers.ts). */
  terms: string;
  vector: number[];
}

export interface FileRecord {
  path: string;
  hash: string;
  size: number;
  mtimeMs: number;
  chunks: number;
}

export interface Hit {
  path: string;
  startLine: number;
  endLine: number;
  name: string;
  text: string;
  /** Larger is better: cosine similarity for vectors, BM25 for keywords. */
  score: number;
  /** The chunk's vector, only when the search asked for it (hybrid search's diversity step). */
  vector?: number[];
}

const sql = (s: string) => `'${s.replace(/'/g, "''")}'`;
const HIT_COLUMNS = ['path', 'start_line', 'end_line', 'name', 'text'];

function hitOf(r: Record<string, unknown>, score: number): Hit {
  const hit: Hit = { path: r.path as string, startLine: r.start_line as number, endLine: r.end_line as number, name: r.name as string, text: r.text as string, score };
  if (r.vector) hit.vector = Array.from(r.vector as ArrayLike<number>);
  return hit;
}

const hitColumns = (withVectors: boolean) => (withVectors ? [...HIT_COLUMNS, 'vector'] : HIT_COLUMNS);

export class IndexStore {
  private ftsReady = false;

  private constructor(
    readonly dir: string,
    private readonly db: lancedb.Connection,
    private readonly chunks: lancedb.Table,
    private readonly fileTable: lancedb.Table,
  ) {}

  /**
   * Opens the index in `dir`, or builds an empty one when it is missing, unreadable or made for
   * another embedder, or when `fresh` (`rebuilt` says why).
   */
  static async open(dir: string, meta: Omit<IndexMeta, 'version'>, fresh = false): Promise<{ store: IndexStore; rebuilt?: string }> {
    const want: IndexMeta = { version: STORE_VERSION, ...meta };
    const reason = fresh ? 'rebuild requested' : staleReason(dir, want);
    if (!reason) {
      try {
        const db = await lancedb.connect(dir);
        const chunks = await db.openTable('chunks');
        const files = await db.openTable('files');
        // A table whose files are damaged fails here (every fragment is read) rather than in the middle of indexing.
        await chunks.query().select(['path']).toArray();
        await files.query().toArray();
        return { store: new IndexStore(dir, db, chunks, files) };
      } catch (e) {
        return { store: await IndexStore.create(dir, want), rebuilt: `unreadable (${(e as Error).message.split('\n')[0]})` };
      }
    }
    return { store: await IndexStore.create(dir, want), rebuilt: reason };
  }

  private static async create(dir: string, meta: IndexMeta): Promise<IndexStore> {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const db = await lancedb.connect(dir);
    const chunks = await db.createEmptyTable(
      'chunks',
      new Schema([
        new Field('path', new Utf8()),
        new Field('start_line', new Int32()),
        new Field('end_line', new Int32()),
        new Field('name', new Utf8()),
        new Field('text', new Utf8()),
        new Field('terms', new Utf8()),
        new Field('vector', new FixedSizeList(meta.dims, new Field('item', new Float32(), true))),
      ]),
    );
    const files = await db.createEmptyTable(
      'files',
      new Schema([new Field('path', new Utf8()), new Field('hash', new Utf8()), new Field('size', new Float64()), new Field('mtime_ms', new Float64()), new Field('chunks', new Int32())]),
    );
    // Written last: a folder without it is an unfinished build, rebuilt on the next open.
    writeFileSync(join(dir, `${META}.tmp`), JSON.stringify(meta, null, 2));
    renameSync(join(dir, `${META}.tmp`), join(dir, META));
    return new IndexStore(dir, db, chunks, files);
  }

  /** Every indexed file's record, by path. */
  async files(): Promise<Map<string, FileRecord>> {
    const rows = await this.fileTable.query().toArray();
    return new Map(rows.map((r) => [r.path as string, { path: r.path, hash: r.hash, size: r.size, mtimeMs: r.mtime_ms, chunks: r.chunks } as FileRecord]));
  }

  /** Replaces the chunks of these files (record removed, chunks replaced, record written: see the file comment). */
  async replaceFiles(entries: { file: FileRecord; chunks: ChunkRow[] }[]): Promise<void> {
    if (!entries.length) return;
    const paths = entries.map((e) => e.file.path);
    await this.removeFiles(paths);
    const rows = entries.flatMap((e) =>
      e.chunks.map((c) => ({ path: c.path, start_line: c.startLine, end_line: c.endLine, name: c.name, text: c.text, terms: c.terms, vector: c.vector })),
    );
    if (rows.length) await this.chunks.add(rows);
    await this.fileTable.add(entries.map(({ file: f }) => ({ path: f.path, hash: f.hash, size: f.size, mtime_ms: f.mtimeMs, chunks: f.chunks })));
  }

  /** How many chunks each path has. */
  async chunkCounts(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const r of await this.chunks.query().select(['path']).toArray()) counts.set(r.path as string, (counts.get(r.path as string) ?? 0) + 1);
    return counts;
  }

  /** A file's chunks as stored, vectors included. */
  async chunksOf(path: string): Promise<ChunkRow[]> {
    const rows = await this.chunks.query().where(`path = ${sql(path)}`).toArray();
    return rows.map((r) => ({
      path: r.path,
      startLine: r.start_line,
      endLine: r.end_line,
      name: r.name,
      text: r.text,
      terms: r.terms,
      vector: Array.from(r.vector as ArrayLike<number>),
    }));
  }

  /** Removes files' records, then their chunks. */
  async removeFiles(paths: string[]): Promise<void> {
    for (let i = 0; i < paths.length; i += 200) {
      const where = `path IN (${paths.slice(i, i + 200).map(sql).join(', ')})`;
      await this.fileTable.delete(where);
      await this.chunks.delete(where);
    }
  }

  /** The `k` chunks nearest to `vector` (cosine), optionally outside `excludePath`, with their vectors when `withVectors`. */
  async vectorSearch(vector: number[], k: number, excludePath?: string, withVectors = false): Promise<Hit[]> {
    let q = this.chunks.query().nearestTo(vector).distanceType('cosine').select([...hitColumns(withVectors), '_distance']).limit(k);
    if (excludePath !== undefined) q = q.where(`path != ${sql(excludePath)}`);
    const rows = await q.toArray();
    return rows.map((r) => hitOf(r, 1 - (r._distance as number)));
  }

  /** The `k` best BM25 matches of `terms` (identifierTerms of the query) in the terms column, with their vectors when `withVectors`. */
  async keywordSearch(terms: string, k: number, excludePath?: string, withVectors = false): Promise<Hit[]> {
    if (!terms.trim()) return [];
    await this.ensureFullTextIndex();
    let q = this.chunks.query().fullTextSearch(terms, { columns: ['terms'] }).select([...hitColumns(withVectors), '_score']).limit(k);
    if (excludePath !== undefined) q = q.where(`path != ${sql(excludePath)}`);
    const rows = await q.toArray();
    return rows.map((r) => hitOf(r, r._score as number));
  }

  /**
   * The full-text index over the terms column: terms are split already, so blanks separate tokens;
   * stemmed and without English stop words, so words in a question match words in code.
   */
  private async ensureFullTextIndex(): Promise<void> {
    if (this.ftsReady) return;
    const indices = await this.chunks.listIndices();
    if (!indices.some((i) => i.columns.includes('terms'))) await this.buildFullTextIndex();
    this.ftsReady = true;
  }

  private buildFullTextIndex(): Promise<void> {
    return this.chunks.createIndex('terms', {
      config: lancedb.Index.fts({ baseTokenizer: 'whitespace', lowercase: true, stem: true, language: 'English', removeStopWords: true, withPosition: false }),
      replace: true,
    });
  }

  /**
   * Compacts the tables, builds the full-text index anew and drops old versions (disk space). Anew,
   * not merged: LanceDB 0.31's incremental update of a full-text index after rows were deleted and
   * others added (a renamed or edited file) reported every row indexed, yet scored the new rows far
   * too low or not at all (a renamed file missing from its own name's results, about one time in two).
   */
  async optimize(): Promise<void> {
    await this.chunks.optimize({ cleanupOlderThan: new Date() });
    if ((await this.chunks.countRows()) > 0) {
      await this.buildFullTextIndex();
      this.ftsReady = true;
    }
    await this.fileTable.optimize({ cleanupOlderThan: new Date() });
  }

  async counts(): Promise<{ chunks: number; files: number }> {
    return { chunks: await this.chunks.countRows(), files: await this.fileTable.countRows() };
  }

  /** Bytes on disk. */
  async sizeBytes(): Promise<number> {
    return dirSize(this.dir);
  }

  close(): void {
    this.chunks.close();
    this.fileTable.close();
    this.db.close();
  }
}

/** Why the index in `dir` cannot be used for `want`, or undefined when it can. */
function staleReason(dir: string, want: IndexMeta): string | undefined {
  if (!existsSync(join(dir, META))) return existsSync(dir) ? 'unfinished or from an older version' : 'new';
  let meta: Partial<IndexMeta>;
  try {
    meta = JSON.parse(readFileSync(join(dir, META), 'utf8')) as Partial<IndexMeta>;
  } catch {
    return `${META} is unreadable`;
  }
  if (meta.version !== want.version) return `index format ${meta.version} (now ${want.version})`;
  if (meta.embedder !== want.embedder || meta.dims !== want.dims) return `built with another model (${meta.embedder}, ${meta.dims} dimensions)`;
  return undefined;
}

async function dirSize(p: string): Promise<number> {
  const s = await stat(p).catch(() => undefined);
  if (!s) return 0;
  if (!s.isDirectory()) return s.size;
  let n = 0;
  for (const e of await readdir(p)) n += await dirSize(join(p, e));
  return n;
}
