import { cutLoops } from './loop-stream';
import type { PostprocessRule } from './types';

/**
 * Small models under greedy decoding fall into loops (the same line or block of lines over
 * and over, or a phrase repeated within a line): keep the first occurrence, drop the loop and
 * everything after it. The rules live in loop-stream.ts, which applies them while text streams;
 * this runs the whole text through it, so a finished completion and a streamed one agree.
 */
export const cutRepetitionLoops: PostprocessRule = (text) => cutLoops(text, 'code');

/**
 * Loops in prose (chat answers): only runs repeated back to back count. A line recurring across
 * an answer (the opening fence of each code block, say) is normal there.
 */
export function cutRunLoops(text: string): string {
  return cutLoops(text, 'prose');
}
