/**
 * Queries over the index: vector search (the query's embedding against the chunks'), keyword search
 * (BM25 over identifier terms, identifiers.ts) and hybrid search, which fuses the two rankings by
 * weighted reciprocal rank fusion (Cormack et al. 2009: score = sum of weight / (k + rank)).
 *
 * The weights are measured, not assumed (npm run bench:quality on the fixture workspace): with the
 * embedded 23M model the vector side alone finds the right file in the top 5 for about 6 queries in
 * 10 and identifier-aware keywords for 19 in 20, and equal weights (k = 60) pull hybrid below keywords.
 * So keywords lead and the vectors reorder what both find and fill in when keywords find little.
 * Then the vectors keep look-alike chunks from crowding the first results (diversify): on the
 * fixture, recall@5 0.976 against keywords' 0.952 and MRR 0.96 against 0.955; lambda from 0.3 to
 * 0.5 and windows of 20 to 80 give the same recall, 0.6 and above none of the gain.
 */
import type { SearchMode } from '../../protocol/index';
import { identifierTerms } from './identifiers';
import type { Hit, IndexStore } from './store';

/** RRF's constant: a small one keeps the top of each ranking ahead of its tail. */
const RRF_K = 10;
/** Each side's weight in the fusion (see the file comment). */
export const FUSION_WEIGHTS = { keyword: 1, vector: 0.25 };
/** diversify's trade-off between relevance and difference (lambda), and how many fused results it reorders. */
export const DIVERSITY = { lambda: 0.4, window: 40 };

export interface SearchOptions {
  /** Results wanted. */
  k: number;
  mode?: SearchMode;
  /** Leave out this file's chunks (the file being edited). */
  excludePath?: string;
}

/** The same chunk found by both sides. */
const keyOf = (h: Hit) => `${h.path}#${h.startLine}`;

export function fuse(rankings: { hits: Hit[]; weight: number }[], k = Infinity): Hit[] {
  const fused = new Map<string, { hit: Hit; score: number }>();
  for (const { hits, weight } of rankings) {
    hits.forEach((hit, rank) => {
      const key = keyOf(hit);
      const entry = fused.get(key) ?? { hit, score: 0 };
      entry.score += weight / (RRF_K + rank + 1);
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
  // Hybrid search asks for the chunks' vectors too: its diversity step compares them.
  const withVectors = mode === 'hybrid';
  const keyword = mode !== 'vector' ? store.keywordSearch(identifierTerms(query), depth, o.excludePath, withVectors) : Promise.resolve([]);
  const vector = mode !== 'keyword' ? embedQuery(query).then((v) => store.vectorSearch(v, depth, o.excludePath, withVectors)) : Promise.resolve([]);
  const [kw, vec] = await Promise.all([keyword, vector]);
  if (mode === 'keyword') return kw;
  if (mode === 'vector') return vec;
  const fused = fuse([
    { hits: kw, weight: FUSION_WEIGHTS.keyword },
    { hits: vec, weight: FUSION_WEIGHTS.vector },
  ]);
  return diversify(fused, o.k).map(({ vector: _, ...h }) => h);
}

/**
 * Maximal marginal relevance over the fused ranking (Carbonell & Goldstein 1998): each pick
 * maximises lambda * relevance - (1 - lambda) * (likeness to the closest pick so far), relevance
 * being the fused score over the best one and likeness the cosine of the chunks' vectors after
 * subtracting the candidates' mean vector (a small model's vectors all point one way, raw cosines
 * sit between 0.8 and 1). Look-alike code (one service per entity, generated models) then shows
 * once among the first results, with the next different thing after it. The first `DIVERSITY.window`
 * fused results are reordered; the rest follow as fused.
 */
export function diversify(fused: Hit[], k: number, lambda = DIVERSITY.lambda): Hit[] {
  const window = fused.slice(0, Math.max(k, DIVERSITY.window));
  const dims = window[0]?.vector?.length ?? 0;
  if (window.length < 2 || !dims || window.some((h) => h.vector?.length !== dims)) return fused.slice(0, k);
  const unit = centeredUnitVectors(fused.map((h) => h.vector!), window.length);
  const best = window[0]!.score;
  const closest = window.map(() => -Infinity);
  const left = new Set(window.keys());
  const picked: Hit[] = [];
  while (picked.length < k && left.size) {
    let pick = -1;
    let pickValue = -Infinity;
    for (const i of left) {
      const value = lambda * (window[i]!.score / best) - (1 - lambda) * Math.max(0, closest[i]!);
      if (value > pickValue) [pick, pickValue] = [i, value];
    }
    left.delete(pick);
    picked.push(window[pick]!);
    for (const i of left) closest[i] = Math.max(closest[i]!, dot(unit[i]!, unit[pick]!));
  }
  return [...picked, ...fused.slice(window.length)].slice(0, k);
}

/** The first `n` of `vectors` less the mean of all of them, at unit length. */
function centeredUnitVectors(vectors: number[][], n: number): Float64Array[] {
  const dims = vectors[0]!.length;
  const mean = new Float64Array(dims);
  for (const v of vectors) for (let d = 0; d < dims; d++) mean[d]! += v[d]! / vectors.length;
  return vectors.slice(0, n).map((v) => {
    const c = Float64Array.from(v, (x, d) => x - mean[d]!);
    const norm = Math.sqrt(dot(c, c)) || 1;
    return c.map((x) => x / norm);
  });
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let d = 0; d < a.length; d++) s += a[d]! * b[d]!;
  return s;
}
