import type { PostprocessRule } from './types';

/** A suggestion of only whitespace is no suggestion: return '' so the pipeline drops it. */
export const dropEmpty: PostprocessRule = (text) => (text.trim() === '' ? '' : text);
