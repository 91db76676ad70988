/**
 * The workspace index: follows the files of the workspace folders into the store (store.ts), in the
 * background and in small slices. One loop does all writes, in order: a scan compares the folders
 * with the files' records (new, changed or gone since the last run, so a restart resumes where the
 * last run stopped), then files are read, cut into chunks (chunker.ts), embedded a few at a time
 * and written a batch at a time. Before every slice the loop waits while the user's generations run
 * (`busy`) and while it is paused, so indexing never delays a completion by more than one slice.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { IndexStatus } from '../../protocol/index';
import { chunkFile } from './chunker';
import { definitionsOf } from './definitions';
import { IgnoreRules, indexedLanguage, listFiles, skipReason } from './files';
import { identifierTerms } from './identifiers';
import { Roots, type Root } from './roots';
import { searchIndex, type SearchOptions } from './search';
import { IndexStore, type ChunkRow, type FileRecord, type Hit } from './store';

export interface Embedder {
  /** The model and how its vectors are made: an index built by another embedder is rebuilt. */
  identity: string;
  embed(texts: string[]): Promise<number[][]>;
}

export interface IndexOptions {
  /** Workspace folder URIs. */
  folders: readonly string[];
  /** The index's own folder (in the editor's workspace storage). */
  dir: string;
  /** neoxComplete.index.exclude: gitignore-style patterns. */
  exclude: readonly string[];
  embedder: Embedder;
  /** True while the user's generations run: the loop waits. */
  busy(): boolean;
  onStatus(s: IndexStatus): void;
  log(message: string): void;
}

export interface IndexHit extends Hit {
  uri: string;
}

export const INDEX_LIMITS = {
  /** Files read, chunked and written together. */
  batchFiles: 8,
  /** Characters of chunk text per embed call: about 1,000 tokens, one short turn on a local engine. */
  embedCallChars: 4000,
  /** Compact and prune the tables after this many written batches (and when the queue empties). */
  optimizeEvery: 50,
  /** While busy, look again after this long. */
  busyPollMs: 50,
};

type Work = 'update' | 'delete';

const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');
/** What is embedded for a chunk: where it is, then the code. */
export const embedText = (path: string, text: string) => `${path}\n${text}`;

export class WorkspaceIndex {
  private readonly roots: Roots;
  private rules = new Map<Root, IgnoreRules>();
  private store?: IndexStore;
  private records = new Map<string, FileRecord>();
  private readonly queue = new Map<string, Work>();
  private rescan = true;
  private rebuildRequested = false;
  private paused = false;
  private disposed = false;
  private wake?: () => void;
  private loop?: Promise<void>;
  private status: IndexStatus = { state: 'starting', filesDone: 0, filesTotal: 0, files: 0, chunks: 0 };
  private lastSent = 0;
  private idleWaiters: (() => void)[] = [];
  private batchesSinceOptimize = 0;

  constructor(private readonly o: IndexOptions) {
    this.roots = new Roots(o.folders);
    this.setExclude(o.exclude);
  }

  get current(): IndexStatus {
    return this.status;
  }

  /** The folders it covers, as given. */
  get folders(): readonly string[] {
    return this.o.folders;
  }

  /** The embedder's identity: which model's vectors this index holds. */
  get identity(): string {
    return this.o.embedder.identity;
  }

  /** Opens (or rebuilds) the store and starts the loop. */
  start(): Promise<void> {
    this.loop ??= this.run().catch((e: unknown) => this.fail(e));
    return this.loop;
  }

  pause(): void {
    this.paused = true;
    this.setStatus({ state: 'paused' }, true);
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.setStatus({ state: this.queue.size || this.rescan ? 'indexing' : 'ready' }, true);
    this.wake?.();
  }

  /** New exclude patterns: the folders are scanned again (newly excluded files leave the index). */
  setExclude(patterns: readonly string[]): void {
    this.rules = new Map(this.roots.list.map((r) => [r, new IgnoreRules(r.dir, patterns)]));
    this.requestScan();
  }

  /** Drops the index and builds it again from every file. */
  rebuild(): void {
    this.rebuildRequested = true;
    this.requestScan();
  }

  requestScan(): void {
    this.rescan = true;
    this.wake?.();
  }

  /** A file was saved, created or changed on disk. */
  changed(uri: string): void {
    const loc = this.roots.locate(uri);
    if (!loc) return;
    if (loc.rel === '.gitignore' || loc.rel.endsWith('/.gitignore')) {
      this.rules.get(loc.root)?.reset();
      return this.requestScan();
    }
    if (indexedLanguage(loc.rel)) return this.enqueue(loc.path, 'update');
    // A new folder: its files may have no events of their own (a watcher sees a folder that was
    // created with its contents as one creation), so it is scanned like the whole workspace.
    void stat(join(loc.root.dir, loc.rel)).then(
      (s) => s.isDirectory() && this.requestScan(),
      () => undefined,
    );
  }

  /** A file or folder was deleted (a rename is a delete and a create). */
  deleted(uri: string): void {
    const loc = this.roots.locate(uri);
    if (!loc) return;
    if (loc.rel.endsWith('.gitignore')) return this.changed(uri);
    // A deleted folder: every file recorded under it.
    const under = loc.path + '/';
    this.enqueue(loc.path, 'delete');
    for (const p of this.records.keys()) if (p.startsWith(under)) this.enqueue(p, 'delete');
  }

  private enqueue(path: string, work: Work): void {
    this.queue.delete(path);
    this.queue.set(path, work);
    this.status.filesTotal++;
    // Said at once when it starts, so a status sent after this event never reads 'ready' for work still queued.
    if (this.status.state === 'ready') this.setStatus({ state: 'indexing' }, true);
    this.wake?.();
  }

  /** Resolves when nothing is queued and no scan is due (tests, benchmarks). */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private isIdle(): boolean {
    return !!this.store && !this.rescan && this.queue.size === 0 && this.status.state === 'ready';
  }

  /** The best chunks for `query`, with the URI of each file. Empty until the store is open. */
  async search(query: string, o: SearchOptions): Promise<IndexHit[]> {
    const store = this.store;
    if (!store || !query.trim()) return [];
    const hits = await searchIndex(store, async (q) => (await this.o.embedder.embed([q]))[0]!, query, o);
    return hits.flatMap((h) => {
      const uri = this.roots.uriOf(h.path);
      return uri ? [{ ...h, uri }] : [];
    });
  }

  /** The index path of a URI (to leave the file being edited out of its own results). */
  pathOf(uri: string): string | undefined {
    return this.roots.locate(uri)?.path;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.wake?.();
    await this.loop;
    this.store?.close();
    this.store = undefined;
  }

  // ---------- the loop ----------

  private async run(): Promise<void> {
    await this.open(false);
    while (!this.disposed) {
      await this.gate();
      if (this.disposed) break;
      if (this.rebuildRequested) {
        this.rebuildRequested = false;
        await this.open(true);
        continue;
      }
      if (this.rescan) {
        await this.scan();
        continue;
      }
      if (this.queue.size === 0) {
        await this.settle();
        continue;
      }
      const batch = [...this.queue].slice(0, INDEX_LIMITS.batchFiles);
      for (const [p] of batch) this.queue.delete(p);
      await this.process(batch);
    }
  }

  /** Opens the store (a fresh one when `fresh`), learning the vector size from the embedder. */
  private async open(fresh: boolean): Promise<void> {
    this.setStatus({ state: 'starting', message: fresh ? 'rebuilding the index' : 'opening the index' }, true);
    const probe = await this.o.embedder.embed(['index']);
    this.store?.close();
    this.store = undefined;
    const { store, rebuilt } = await IndexStore.open(this.o.dir, { embedder: this.o.embedder.identity, dims: probe[0]!.length }, fresh);
    if (rebuilt && rebuilt !== 'new') this.o.log(`workspace index: building it anew (${rebuilt})`);
    this.store = store;
    this.records = await store.files();
    await this.heal();
    this.batchesSinceOptimize = 0;
  }

  /**
   * Chunks and records that disagree (a file's chunk count, chunks of a file without a record) are
   * not trusted: those files lose their chunks and records and are indexed again by the next scan.
   */
  private async heal(): Promise<void> {
    const counts = await this.store!.chunkCounts();
    const bad = [...this.records.values()].filter((r) => (counts.get(r.path) ?? 0) !== r.chunks).map((r) => r.path);
    for (const p of counts.keys()) if (!this.records.has(p)) bad.push(p);
    if (!bad.length) return;
    this.o.log(`workspace index: ${bad.length} files whose chunks did not match their records are indexed again`);
    await this.store!.removeFiles(bad);
    for (const p of bad) this.records.delete(p);
  }

  /** Waits while paused or while the user's generations run. */
  private async gate(): Promise<void> {
    while (!this.disposed && (this.paused || this.o.busy())) {
      if (this.paused) await new Promise<void>((r) => (this.wake = r));
      else await new Promise((r) => setTimeout(r, INDEX_LIMITS.busyPollMs));
    }
    this.wake = undefined;
  }

  /** Queue empty: compact, say ready, wake whoever waits, sleep until there is work. */
  private async settle(): Promise<void> {
    if (this.batchesSinceOptimize > 0) {
      await this.store!.optimize();
      this.batchesSinceOptimize = 0;
    }
    const { chunks, files } = await this.store!.counts();
    this.setStatus({ state: 'ready', files, chunks, filesDone: this.status.filesTotal, message: undefined }, true);
    for (const w of this.idleWaiters.splice(0)) w();
    if (this.queue.size === 0 && !this.rescan && !this.disposed) await new Promise<void>((r) => (this.wake = r));
    this.wake = undefined;
  }

  /** Every folder against the records: what changed since they were written is queued. */
  private async scan(): Promise<void> {
    this.rescan = false;
    this.setStatus({ state: 'scanning', message: 'looking for changed files' }, true);
    const seen = new Set<string>();
    for (const root of this.roots.list) {
      for (const f of await listFiles(root.dir, this.rules.get(root)!)) {
        const path = root.prefix + f.path;
        seen.add(path);
        const r = this.records.get(path);
        if (!r || r.size !== f.size || r.mtimeMs !== f.mtimeMs) this.queue.set(path, 'update');
      }
    }
    for (const p of this.records.keys()) if (!seen.has(p)) this.queue.set(p, 'delete');
    this.status.filesDone = 0;
    this.status.filesTotal = this.queue.size;
    this.setStatus({ state: this.queue.size ? 'indexing' : 'ready', message: undefined }, true);
  }

  private async process(batch: [string, Work][]): Promise<void> {
    const gone: string[] = [];
    const written: { file: FileRecord; chunks: ChunkRow[] }[] = [];
    for (const [path, work] of batch) {
      const entry = work === 'update' ? await this.read(path) : undefined;
      if (entry) written.push(entry);
      else if (this.records.has(path) || work === 'delete') gone.push(path);
      this.status.filesDone++;
    }
    const store = this.store!;
    await store.removeFiles(gone);
    for (const p of gone) this.records.delete(p);
    await store.replaceFiles(written);
    for (const e of written) this.records.set(e.file.path, e.file);
    this.status.files = this.records.size;
    this.status.chunks = [...this.records.values()].reduce((n, f) => n + f.chunks, 0);
    if (++this.batchesSinceOptimize >= INDEX_LIMITS.optimizeEvery) {
      await store.optimize();
      this.batchesSinceOptimize = 0;
    }
    this.setStatus({ state: 'indexing' });
  }

  /** The file's record and chunks, or undefined when it is gone or not indexed (outside, ignored). */
  private async read(path: string): Promise<{ file: FileRecord; chunks: ChunkRow[] } | undefined> {
    const r = this.roots.resolve(path);
    if (!r || !indexedLanguage(r.rel) || (await this.rules.get(r.root)!.ignored(r.rel))) return undefined;
    const abs = join(r.root.dir, r.rel);
    let content: Buffer;
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(abs)).mtimeMs;
      content = await readFile(abs);
    } catch {
      return undefined;
    }
    const base = { path, size: content.length, mtimeMs };
    const skip = skipReason(content);
    // A skipped file keeps a record without chunks, so it is not read again until it changes.
    if (skip) return { file: { ...base, hash: `skipped: ${skip}`, chunks: 0 }, chunks: [] };
    const hash = sha1(content);
    const old = this.records.get(path);
    // Touched, not changed (a checkout, a copy): the chunks stay, the record takes the new mtime.
    if (old?.hash === hash) return { file: { ...base, hash, chunks: old.chunks }, chunks: await this.store!.chunksOf(path) };
    const text = content.toString('utf8');
    const language = indexedLanguage(r.rel)!;
    const pieces = chunkFile(text, await definitionsOf(text, language));
    const vectors = await this.embedAll(pieces.map((c) => embedText(path, c.text)));
    const chunks = pieces.map((c, i) => ({
      path,
      startLine: c.startLine,
      endLine: c.endLine,
      name: c.name,
      text: c.text,
      terms: identifierTerms(`${path} ${c.name} ${c.text}`),
      vector: vectors[i]!,
    }));
    return { file: { ...base, hash, chunks: chunks.length }, chunks };
  }

  /** Embeds in calls of about INDEX_LIMITS.embedCallChars, waiting for the user's generations before each. */
  private async embedAll(texts: string[]): Promise<number[][]> {
    const out: number[][] = [];
    let i = 0;
    while (i < texts.length) {
      let j = i;
      let chars = 0;
      while (j < texts.length && (j === i || chars + texts[j]!.length <= INDEX_LIMITS.embedCallChars)) chars += texts[j++]!.length;
      await this.gate();
      out.push(...(await this.o.embedder.embed(texts.slice(i, j))));
      i = j;
    }
    return out;
  }

  private fail(e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    this.o.log(`workspace index: ${message}`);
    this.setStatus({ state: 'error', message }, true);
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Sends the status: at once for state changes, else at most every 250 ms. */
  private setStatus(patch: Partial<IndexStatus>, now = false): void {
    this.status = { ...this.status, ...patch };
    if (this.paused && this.status.state !== 'error') this.status.state = 'paused';
    const t = Date.now();
    if (!now && t - this.lastSent < 250) return;
    this.lastSent = t;
    this.o.onStatus({ ...this.status });
  }
}
