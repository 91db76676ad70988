/**
 * Queries over the index: vector search (the query's embedding against the chunks'), keyword search
 * (BM25 over identifier terms, identifiers.ts) and hybrid search, which fuses the two rankings by
 * reciprocal rank fusion (Cormack et al. 2009: score = sum of 1 / (60 + rank)). A small model's
 * vectors alone find little; the keyword side finds names, the vector side what is described.
 */
import type { SearchMode } from '../../protocol/index';
import { identifierTerms } from './identifiers';
import type { Hit, IndexStore } from './store';

/** RRF's constant: ranks beyond the first few weigh about the same. */
const RRF_K = 60;

export interface SearchOptions {
  /** Results wanted. */
  k: number;
  mode?: SearchMode;
  /** Leave out this file's chunks (the file being edited). */
  excludePath?: string;
}

/** The same chunk found by both sides. */
const keyOf = (h: Hit) => `${h.path}#${h.startLine}`;

export function fuse(rankings: Hit[][], k: number): Hit[] {
  const fused = new Map<string, { hit: Hit; score: number }>();
  for (const ranking of rankings) {
    ranking.forEach((hit, rank) => {
      const key = keyOf(hit);
      const entry = fused.get(key) ?? { hit, score: 0 };
      entry.score += 1 / (RRF_K + rank + 1);
      fused.set(key, entry);
    });
  }
  return [...fused.values()]
    .sort((a, b) => b.score - a.score)
    .slice(0, k)
    .map((e) => ({ ...e.hit, score: e.score }));
}

export async function searchIndex(store: IndexStore, embedQuery: (q: string) => Promise<number[]>, query: string, o: SearchOptions): Promise<Hit[]> {
  const mode = o.mode ?? 'hybrid';
  // Each side looks deeper than k, so that fusion can promote what both rank fairly high.
  const depth = mode === 'hybrid' ? Math.max(20, o.k * 4) : o.k;
  const keyword = mode !== 'vector' ? store.keywordSearch(identifierTerms(query), depth, o.excludePath) : Promise.resolve([]);
  const vector = mode !== 'keyword' ? embedQuery(query).then((v) => store.vectorSearch(v, depth, o.excludePath)) : Promise.resolve([]);
  const [kw, vec] = await Promise.all([keyword, vector]);
  if (mode === 'keyword') return kw;
  if (mode === 'vector') return vec;
  return fuse([kw, vec], o.k);
}
