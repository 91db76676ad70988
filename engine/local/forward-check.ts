/**
 * Validation of a forward() call against the cached tokens, on the caller's side (load.ts), which
 * owns them: a call that passes is one the worker's KV cache can take.
 */
import { NeoxError } from '../types';

/**
 * Throws a NeoxError for a bad call; returns the row count the call implies (an empty cache takes
 * the row count of its first forward).
 */
export function checkForward(
  tokens: number[][],
  targets: number[][] | undefined,
  cachedLengths: number[],
  vocabSize: number,
  contextLength: number,
): number {
  if (!Array.isArray(tokens) || tokens.length === 0) throw new NeoxError('forward: tokens must be a non-empty array of rows', 'bad_request');
  const empty = cachedLengths.every((n) => n === 0);
  const rows = empty ? tokens.length : cachedLengths.length;
  if (tokens.length !== rows) {
    throw new NeoxError(`forward: got ${tokens.length} rows of tokens, the cache has ${rows} (call reset(rows) first)`, 'bad_request');
  }
  if (targets && targets.length !== rows) throw new NeoxError(`scoreNext: got ${targets.length} rows of next tokens for ${rows} rows`, 'bad_request');
  for (let r = 0; r < rows; r++) {
    const row = tokens[r];
    if (!Array.isArray(row) || row.length === 0) throw new NeoxError(`forward: row ${r} has no tokens`, 'bad_request');
    for (const id of row) {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new NeoxError(`forward: token id ${id} in row ${r} is outside the vocabulary (0..${vocabSize - 1})`, 'bad_request');
      }
    }
    const total = (empty ? 0 : cachedLengths[r]) + row.length;
    if (total > contextLength) {
      throw new NeoxError(`forward: row ${r} would hold ${total} tokens, more than the model's context length ${contextLength}`, 'context_exceeded');
    }
    if (targets) {
      const tr = targets[r];
      if (!Array.isArray(tr) || tr.length !== row.length || tr.some((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize)) {
        throw new NeoxError(`scoreNext: row ${r} needs ${row.length} next-token ids within the vocabulary`, 'bad_request');
      }
    }
  }
  return rows;
}
