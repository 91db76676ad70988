/**
 * A small ring of recently seen code chunks from open and edited documents. The prompt for a
 * completion may include the chunks most similar (Jaccard over identifiers) to the text before
 * the cursor: definitions in the file next door are often exactly what the completion needs.
 *
 * Bounded work per document (issue 12): a document above MAX_DOCUMENT_CHARS (a bundle, a data
 * dump, a minified file) gives no snippets at all and is said so once in the log; a chunk above
 * MAX_CHUNK_CHARS is cut to the lines that fit (or skipped: one long line). Chunks are copies, so
 * the ring never keeps a closed or outdated document's text alive.
 */

export interface Chunk {
  /** Stable identity: uri + first line. */
  id: string;
  uri: string;
  path: string;
  startLine: number;
  text: string;
  words: Set<string>;
}

/**
 * Identifiers of 3 characters or more in any script (`total`, `сумма`, `合計値`, `مجموع`): letters,
 * combining marks, digits and `_`, not starting with a digit. ASCII-only \w would split `größe`
 * into `gr` + `e` and see no identifiers at all in Chinese, Japanese, Russian or Arabic code.
 */
const WORD = /[\p{L}\p{M}_][\p{L}\p{M}\p{N}_]{2,}/gu;
/** Documents above this size are not indexed for cross-file snippets. */
export const MAX_DOCUMENT_CHARS = 1024 * 1024;
/** A chunk is cut to this size (the prompt gives snippets a quarter of its budget anyway). */
export const MAX_CHUNK_CHARS = 4000;

/** A copy of `s` that does not share the (possibly huge) string it was sliced from. */
const detached = (s: string): string => JSON.parse(JSON.stringify(s)) as string;

export const wordsOf = (text: string): Set<string> => new Set(text.match(WORD) ?? []);

export function jaccard(a: Set<string>, b: Set<string>): number {
  if (a.size === 0 || b.size === 0) return 0;
  let inter = 0;
  const [small, big] = a.size <= b.size ? [a, b] : [b, a];
  for (const w of small) if (big.has(w)) inter++;
  return inter / (a.size + b.size - inter);
}

export class SnippetRing {
  private chunks: Chunk[] = [];
  /** Documents too big to index, already said so in the log (until they are removed). */
  private tooBig = new Set<string>();
  /** Bumped on every change, so callers can tell whether a cached selection is still valid. */
  version = 0;

  constructor(
    readonly capacity = 48,
    readonly chunkLines = 24,
    /** Where the ring says that it skips a document (once per document). */
    private readonly log: (message: string) => void = () => undefined,
  ) {}

  get size(): number {
    return this.chunks.length;
  }

  /** False (the document's chunks dropped, and a log line the first time) for a document too big to index. */
  private indexable(uri: string, path: string, text: string): boolean {
    if (text.length <= MAX_DOCUMENT_CHARS) return true;
    if (!this.tooBig.has(uri)) {
      this.tooBig.add(uri);
      const mb = (n: number) => (n / (1024 * 1024)).toFixed(1);
      this.log(`cross-file snippets: ${path} is ${mb(text.length)} MB (over ${mb(MAX_DOCUMENT_CHARS)} MB), not indexed`);
    }
    this.dropChunks(uri);
    return false;
  }

  /** Remember the chunk of `text` around `line` (aligned to chunkLines so re-edits replace it). */
  addAround(uri: string, path: string, text: string, line: number): void {
    if (!this.indexable(uri, path, text)) return;
    const start = Math.max(0, Math.floor(line / this.chunkLines) * this.chunkLines);
    const body = chunkText(text, start, this.chunkLines);
    if (body.trim() === '') return;
    const id = `${uri}#${start}`;
    const old = this.chunks.findIndex((c) => c.id === id);
    if (old >= 0) {
      if (this.chunks[old]!.text === body) return;
      this.chunks.splice(old, 1);
    }
    const copy = detached(body);
    this.chunks.push({ id, uri, path, startLine: start, text: copy, words: wordsOf(copy) });
    if (this.chunks.length > this.capacity) this.chunks.shift();
    this.version++;
  }

  /** A newly opened document: remember its first chunks (imports and first definitions). */
  addDocument(uri: string, path: string, text: string, chunks = 2): void {
    for (let i = 0; i < chunks; i++) this.addAround(uri, path, text, i * this.chunkLines);
  }

  removeDocument(uri: string): void {
    this.tooBig.delete(uri);
    this.dropChunks(uri);
  }

  private dropChunks(uri: string): void {
    const before = this.chunks.length;
    this.chunks = this.chunks.filter((c) => c.uri !== uri);
    if (this.chunks.length !== before) this.version++;
  }

  get(id: string): Chunk | undefined {
    return this.chunks.find((c) => c.id === id);
  }

  /** Up to `k` chunks from other documents, best first, with similarity above `minScore`. */
  select(excludeUri: string, query: string, k = 2, minScore = 0.08): Chunk[] {
    const q = wordsOf(query);
    return this.chunks
      .filter((c) => c.uri !== excludeUri)
      .map((c) => ({ c, s: jaccard(q, c.words) }))
      .filter((x) => x.s >= minScore)
      .sort((a, b) => b.s - a.s)
      .slice(0, k)
      .map((x) => x.c);
  }
}

/**
 * Lines [start, start + count) of `text` without their last newline, found without splitting the
 * whole text, and cut to the lines that fit in MAX_CHUNK_CHARS ('' when the first does not).
 */
function chunkText(text: string, start: number, count: number): string {
  let from = 0;
  for (let l = 0; l < start; l++) {
    const nl = text.indexOf('\n', from);
    if (nl < 0) return '';
    from = nl + 1;
  }
  let to = from;
  for (let l = 0, pos = from; l < count; l++) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl;
    if (end - from > MAX_CHUNK_CHARS) break;
    to = end;
    if (nl < 0) break;
    pos = nl + 1;
  }
  return text.slice(from, to);
}
