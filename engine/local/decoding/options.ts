/**
 * Checks decoding options once, up front, so a bad request fails with one message naming
 * the field instead of misbehaving mid-generation.
 */
import { NeoxError, type DecodingOptions } from '../../types';

function fail(field: string, why: string): never {
  throw new NeoxError(`decoding option "${field}" ${why}`, 'bad_request');
}

function checkNumber(field: string, v: unknown, ok: (n: number) => boolean, why: string): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) fail(field, `${why} (got ${JSON.stringify(v)})`);
}

export function validateDecodingOptions(o: DecodingOptions): void {
  const int = Number.isInteger;
  if (o.maxTokens === undefined) fail('maxTokens', 'is required');
  checkNumber('maxTokens', o.maxTokens, (n) => int(n) && n >= 0, 'must be an integer >= 0');
  checkNumber('temperature', o.temperature, (n) => n >= 0, 'must be >= 0 (0 = greedy)');
  checkNumber('topK', o.topK, (n) => int(n) && n >= 0, 'must be an integer >= 0 (0 = off)');
  checkNumber('topP', o.topP, (n) => n > 0 && n <= 1, 'must be in (0, 1]');
  checkNumber('repetitionPenalty', o.repetitionPenalty, (n) => n > 0, 'must be > 0 (1 = off)');
  checkNumber('seed', o.seed, (n) => int(n), 'must be an integer');
  checkNumber('n', o.n, (n) => int(n) && n >= 1 && n <= 64, 'must be an integer from 1 to 64');
  checkNumber('numBeams', o.numBeams, (n) => int(n) && n >= 1 && n <= 64, 'must be an integer from 1 to 64');
  checkNumber('lengthPenalty', o.lengthPenalty, () => true, 'must be a number');
  if (o.earlyStopping !== undefined && typeof o.earlyStopping !== 'boolean') fail('earlyStopping', 'must be true or false');
  if (o.stop !== undefined) {
    if (!Array.isArray(o.stop) || o.stop.some((s) => typeof s !== 'string' || s === '')) {
      fail('stop', 'must be a list of non-empty strings');
    }
  }
  if ((o.numBeams ?? 1) > 1) {
    if ((o.temperature ?? 0) > 0) fail('temperature', 'cannot be combined with numBeams > 1 (beam search is deterministic)');
    if ((o.n ?? 1) > o.numBeams!) fail('n', `cannot exceed numBeams (${o.numBeams}) in beam search`);
  }
}
