/** Messages between loadRunner's proxy (caller thread) and the engine worker (engine/local/worker.ts). */
import type { LoadProgress } from '../types';
import type { LoadOptions, Pooling, RunnerInfo } from './runner';

export type ToWorker =
  | { type: 'load'; opts: LoadOptions }
  | { type: 'reset'; rows: number }
  /** With `first`: tokens are for rows first .. first + tokens.length - 1 only (forwardRows). */
  | { type: 'forward'; id: number; tokens: number[][]; allLogits: boolean; targets?: number[][]; first?: number }
  | { type: 'reorder'; src: number[] }
  | { type: 'truncate'; len: number }
  | { type: 'addRows'; count: number }
  | { type: 'truncateRow'; row: number; len: number }
  /** Answered with a 'result' of width hiddenSize, one position per row. */
  | { type: 'embed'; id: number; tokens: number[][]; layer: number; pooling: Pooling }
  | { type: 'dispose'; id: number };

export type FromWorker =
  | { type: 'progress'; progress: LoadProgress }
  | { type: 'ready'; info: RunnerInfo }
  /** `width` floats per returned position: vocabSize for logits, 1 for scoreNext log-probabilities. */
  | { type: 'result'; id: number; logits: ArrayBuffer; counts: number[]; width: number }
  | { type: 'error'; id?: number; message: string; code: string }
  | { type: 'disposed'; id: number };
