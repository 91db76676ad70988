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
 * Beam search from one prompt already cached in runner row 0 with next-token `logits`.
 * Returns finished hypotheses, best first.
 */
export async function beamSearch(
  runner: ModelRunner,
  tokenizer: Pick<NeoxTokenizer, 'decode'>,
  logits: Float32Array,
  params: BeamParams,
): Promise<SequenceResult[]> {
  const { numBeams, maxTokens } = params;
  const lengthPenalty = params.lengthPenalty ?? 1;
  const earlyStopping = params.earlyStopping ?? false;
  const numReturn = Math.min(params.numReturn ?? 1, numBeams);
  const beamsToKeep = 2 * numBeams; // max(2, 1 + n_eos_tokens) * num_beams with one EOS id

  runner.reorder(new Array<number>(numBeams).fill(0));
  let rowLogits: Float32Array[] = new Array<Float32Array>(numBeams).fill(logits);
  // Identical beams at the start: only the first may expand (the others start at -1e9).
  let running: { ids: number[]; score: number }[] = Array.from({ length: numBeams }, (_, i) => ({
    ids: [],
    score: i === 0 ? 0 : -1e9,
  }));
  let finished: Hypothesis[] = [];
  let heuristicUnsatisfied = true;
  let cancelled = false;

  for (let step = 0; step < maxTokens; step++) {
    const scores = rowLogits.map((l, b) => {
      const lp = logSoftmax(l);
      const base = running[b]!.score;
      for (let i = 0; i < lp.length; i++) lp[i] = lp[i]! + base;
      return lp;
    });
    const cands = topCandidates(scores, beamsToKeep);
    const genLen = step + 1; // new tokens in each candidate
    const hits = cands.map((c) => c.token === params.eosTokenId || genLen >= maxTokens);

    // Next running beams: the best num_beams candidates, stopped ones pushed down by -1e9.
    const ranked = cands
      .map((c, j) => ({ c, s: c.score + (hits[j] ? -1e9 : 0), j }))
      .sort((a, b) => b.s - a.s || a.j - b.j)
      .slice(0, numBeams);

    // Finished hypotheses: top-num_beams candidates that stopped, unless the set is closed.
    const full = finished.length >= numBeams;
    const closed = (full && earlyStopping) || !heuristicUnsatisfied;
    if (!closed) {
      cands.forEach((c, j) => {
        if (j >= numBeams || !hits[j]) return;
        finished.push({ score: c.score / genLen ** lengthPenalty, ids: [...running[c.beam]!.ids, c.token] });
      });
      finished = finished.sort((a, b) => b.score - a.score).slice(0, numBeams);
    }

    running = ranked.map(({ c, s }) => ({ ids: [...running[c.beam]!.ids, c.token], score: s }));

    // Whole-search stopping conditions (HF _beam_search_has_unfinished_sequences).
    const allFull = finished.length >= numBeams;
    const bestRunning = running[0]!.score / genLen ** lengthPenalty;
    const worstFinished = allFull ? finished[finished.length - 1]!.score : -1e9;
    heuristicUnsatisfied = heuristicUnsatisfied && bestRunning > worstFinished;
    if (!heuristicUnsatisfied || (allFull && earlyStopping) || hits.every(Boolean)) break;

    if (params.signal?.aborted) {
      cancelled = true;
      break;
    }
    runner.reorder(ranked.map(({ c }) => c.beam));
    rowLogits = await runner.forward(ranked.map(({ c }) => [c.token]));
  }

  const reasonOf = (ids: number[]): FinishReason =>
    cancelled ? 'cancelled' : ids[ids.length - 1] === params.eosTokenId ? 'eos' : 'length';
  const pool: Hypothesis[] = finished.length > 0 && !cancelled ? finished : running.map((r) => ({ ...r }));
  return pool.slice(0, numReturn).map((h) => {
    const textIds = h.ids[h.ids.length - 1] === params.eosTokenId ? h.ids.slice(0, -1) : h.ids;
    return { ids: h.ids, text: tokenizer.decode(textIds), finishReason: reasonOf(h.ids) };
  });
}
