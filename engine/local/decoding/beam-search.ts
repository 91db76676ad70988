/**
 * Beam search exactly as Hugging Face transformers (v4.50+ vectorised `_beam_search`) defines it:
 * - keep 2*num_beams candidates per step (top-k over num_beams*vocab accumulated log-probs);
 * - a candidate that hits a stopping criterion (EOS, or max length) and ranks among the first
 *   num_beams becomes a finished hypothesis scored sum_logprobs / generated_len**length_penalty
 *   (generated_len counts the new tokens including the EOS);
 * - the next running beams are the best num_beams candidates that did not stop;
 * - early_stopping=true: stop once num_beams hypotheses are finished; false: stop when the best
 *   running beam can no longer beat the worst finished one.
 * Beams are rows of the runner's KV cache; `reorder` moves caches to follow the chosen beams.
 */
import type { FinishReason } from '../../types';
import type { ModelRunner } from '../runner';
import type { NeoxTokenizer } from '../tokenizer';
import { logSoftmax } from './logits';
import type { SequenceResult } from './generate';

export interface BeamParams {
  numBeams: number;
  maxTokens: number;
  lengthPenalty?: number;
  earlyStopping?: boolean;
  eosTokenId?: number;
  /** How many finished hypotheses to return (<= numBeams). */
  numReturn?: number;
  signal?: AbortSignal;
}

interface Candidate {
  score: number;
  beam: number;
  token: number;
}

interface Hypothesis {
  score: number;
  ids: number[];
}

/** The k best (score, beam, token) over all beams' accumulated scores, best first. */
function topCandidates(scores: Float64Array[], k: number): Candidate[] {
  const best: Candidate[] = [];
  let floor = -Infinity;
  scores.forEach((row, beam) => {
    for (let token = 0; token < row.length; token++) {
      const score = row[token]!;
      if (best.length === k && score <= floor) continue;
      // insertion keeps `best` sorted descending; equal scores keep the earlier (lower) index first
      let at = best.length;
      while (at > 0 && best[at - 1]!.score < score) at--;
      best.splice(at, 0, { score, beam, token });
      if (best.length > k) best.pop();
      floor = best.length === k ? best[k - 1]!.score : -Infinity;
    }
  });
  return best;
}

/**
 * One beam search as steps, so its beams can be rows of any batch: step() takes the logits of the
 * running beams (beam order) and returns, for the next step, which old beam each new beam copies
 * (its cache row) and the token it appends, or undefined once the search is over.
 */
export class BeamSearch {
  private readonly numBeams: number;
  private readonly lengthPenalty: number;
  private readonly earlyStopping: boolean;
  private readonly numReturn: number;
  private readonly beamsToKeep: number;
  // Identical beams at the start: only the first may expand (the others start at -1e9).
  private running: { ids: number[]; score: number }[];
  private finished: Hypothesis[] = [];
  private heuristicUnsatisfied = true;
  private cancelled = false;
  private steps = 0;

  constructor(private readonly params: BeamParams) {
    this.numBeams = params.numBeams;
    this.lengthPenalty = params.lengthPenalty ?? 1;
    this.earlyStopping = params.earlyStopping ?? false;
    this.numReturn = Math.min(params.numReturn ?? 1, params.numBeams);
    this.beamsToKeep = 2 * params.numBeams; // max(2, 1 + n_eos_tokens) * num_beams with one EOS id
    this.running = Array.from({ length: params.numBeams }, (_, i) => ({ ids: [], score: i === 0 ? 0 : -1e9 }));
  }

  step(rowLogits: Float32Array[]): { src: number[]; tokens: number[] } | undefined {
    const { numBeams, lengthPenalty, earlyStopping, params } = this;
    if (this.cancelled || this.steps >= params.maxTokens) return undefined;
    const scores = rowLogits.map((l, b) => {
      const lp = logSoftmax(l);
      const base = this.running[b]!.score;
      for (let i = 0; i < lp.length; i++) lp[i] = lp[i]! + base;
      return lp;
    });
    const cands = topCandidates(scores, this.beamsToKeep);
    const genLen = ++this.steps; // new tokens in each candidate
    const hits = cands.map((c) => c.token === params.eosTokenId || genLen >= params.maxTokens);

    // Next running beams: the best num_beams candidates, stopped ones pushed down by -1e9.
    const ranked = cands
      .map((c, j) => ({ c, s: c.score + (hits[j] ? -1e9 : 0), j }))
      .sort((a, b) => b.s - a.s || a.j - b.j)
      .slice(0, numBeams);

    // Finished hypotheses: top-num_beams candidates that stopped, unless the set is closed.
    const full = this.finished.length >= numBeams;
    const closed = (full && earlyStopping) || !this.heuristicUnsatisfied;
    if (!closed) {
      cands.forEach((c, j) => {
        if (j >= numBeams || !hits[j]) return;
        this.finished.push({ score: c.score / genLen ** lengthPenalty, ids: [...this.running[c.beam]!.ids, c.token] });
      });
      this.finished = this.finished.sort((a, b) => b.score - a.score).slice(0, numBeams);
    }

    const running = this.running;
    this.running = ranked.map(({ c, s }) => ({ ids: [...running[c.beam]!.ids, c.token], score: s }));

    // Whole-search stopping conditions (HF _beam_search_has_unfinished_sequences).
    const allFull = this.finished.length >= numBeams;
    const bestRunning = this.running[0]!.score / genLen ** lengthPenalty;
    const worstFinished = allFull ? this.finished[this.finished.length - 1]!.score : -1e9;
    this.heuristicUnsatisfied = this.heuristicUnsatisfied && bestRunning > worstFinished;
    if (!this.heuristicUnsatisfied || (allFull && earlyStopping) || hits.every(Boolean) || this.steps >= params.maxTokens) return undefined;
    return { src: ranked.map(({ c }) => c.beam), tokens: ranked.map(({ c }) => c.token) };
  }

  /** Stops the search: results() returns the running beams as 'cancelled'. */
  cancel(): void {
    this.cancelled = true;
  }

  /** Finished hypotheses, best first (the running beams when none finished, or when cancelled). */
  results(tokenizer: Pick<NeoxTokenizer, 'decode'>): SequenceResult[] {
    const eos = this.params.eosTokenId;
    const reasonOf = (ids: number[]): FinishReason => (this.cancelled ? 'cancelled' : ids[ids.length - 1] === eos ? 'eos' : 'length');
    const pool: Hypothesis[] = this.finished.length > 0 && !this.cancelled ? this.finished : this.running.map((r) => ({ ...r }));
    return pool.slice(0, this.numReturn).map((h) => {
      const textIds = h.ids[h.ids.length - 1] === eos ? h.ids.slice(0, -1) : h.ids;
      return { ids: h.ids, text: tokenizer.decode(textIds), finishReason: reasonOf(h.ids) };
    });
  }
}

/**
 * Beam search from one prompt already cached in runner row 0 with next-token `logits`.
 * Returns finished hypotheses, best first.
 */
export async function beamSearch(
  runner: ModelRunner,
  tokenizer: Pick<NeoxTokenizer, 'decode'>,
  logits: Float32Array,
  params: BeamParams,
): Promise<SequenceResult[]> {
  const search = new BeamSearch(params);
  runner.reorder(new Array<number>(params.numBeams).fill(0));
  let rowLogits: Float32Array[] = new Array<Float32Array>(params.numBeams).fill(logits);
  for (;;) {
    const next = search.step(rowLogits);
    if (!next) break;
    if (params.signal?.aborted) {
      search.cancel();
      break;
    }
    runner.reorder(next.src);
    rowLogits = await runner.forward(next.tokens.map((t) => [t]));
  }
  return search.results(tokenizer);
}
