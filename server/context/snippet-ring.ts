/**
 * A small ring of recently seen code chunks from open and edited documents. The prompt for a
 * completion may include the chunks most similar (Jaccard over identifiers) to the text before
 * the cursor: definitions in the file next door are often exactly what the completion needs.
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
  /** Bumped on every change, so callers can tell whether a cached selection is still valid. */
  version = 0;

  constructor(
    readonly capacity = 48,
    readonly chunkLines = 24,
  ) {}

  get size(): number {
    return this.chunks.length;
  }

  /** Remember the chunk of `text` around `line` (aligned to chunkLines so re-edits replace it). */
  addAround(uri: string, path: string, text: string, line: number): void {
    const lines = text.split('\n');
    const start = Math.max(0, Math.floor(line / this.chunkLines) * this.chunkLines);
    const body = lines.slice(start, start + this.chunkLines).join('\n');
    if (body.trim() === '') return;
    const id = `${uri}#${start}`;
    const old = this.chunks.findIndex((c) => c.id === id);
    if (old >= 0) {
      if (this.chunks[old]!.text === body) return;
      this.chunks.splice(old, 1);
    }
    this.chunks.push({ id, uri, path, startLine: start, text: body, words: wordsOf(body) });
    if (this.chunks.length > this.capacity) this.chunks.shift();
    this.version++;
  }

  /** A newly opened document: remember its first chunks (imports and first definitions). */
  addDocument(uri: string, path: string, text: string, chunks = 2): void {
    for (let i = 0; i < chunks; i++) this.addAround(uri, path, text, i * this.chunkLines);
  }

  removeDocument(uri: string): void {
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
