/**
 * Builds the prompt for an inline completion: template header (path, language), snippets
 * from other files (open and recently edited ones from the snippet ring, then related code the
 * workspace index finds), then the document text before the cursor, within a token budget.
 *
 * GPT-NeoX has no fill-in-the-middle: the text after the cursor is not part of the prompt
 * (the post-processing rules use it to stop and strip).
 *
 * Prompts are kept stable while the user types so the engine's prefix KV cache hits:
 * - the prefix start stays put (sticky per document) until the prefix outgrows the budget,
 *   and then moves forward far enough (to 85% of the budget) to stay put for a while again;
 * - the snippet choice stays the same while the cursor stays in the same 16-line region and
 *   the chosen chunks are unchanged.
 *
 * Nothing here grows with the document (issue 12: a 5 MB one-line file blocked the server for
 * seconds): the prefix can never need more than MAX_CHARS_PER_TOKEN characters per budget token,
 * so that window is cut out by characters before anything is tokenized (a line longer than that
 * is cut at a safe point), each tokenization is of at most that window, and the builder yields to
 * the event loop before each one so that other requests (status) are answered in between.
 */
import { asLineComments, knownLanguage } from '../language';
import type { SnippetRing } from './snippet-ring';
import { templateFor } from './templates';

export interface PromptRequest {
  uri: string;
  /** Workspace-relative path for the header. */
  path: string;
  languageId: string;
  text: string;
  offset: number;
  /** Tokens for the whole prompt. */
  budget: number;
  crossFile: boolean;
  /** The backend's tokenizer, where it has one: the prompt is then encoded once and its ids kept. */
  tokenize?: (text: string) => Promise<number[]>;
}

export interface BuiltPrompt {
  prompt: string;
  /** Token count of the prompt (with a tokenizer: of the prompt as sent, see `ids`). */
  tokens: number;
  /** With a tokenizer: the ids of the prompt as sent, without its trailing blanks (see trailingBlanks). */
  ids?: number[];
  /** Where in the document the prompt's copy of the prefix starts. */
  prefixStart: number;
  snippetIds: string[];
}

/** A snippet of another file as the prompt quotes it. */
export interface Snippet {
  id: string;
  path: string;
  text: string;
  /** Found by the workspace index (kept for the region), else from the snippet ring (kept while its text is). */
  related?: boolean;
}

/** Related code from the workspace index for the code before the cursor ([] when there is none or it is slow). */
export type RelatedCode = (uri: string, query: string) => Promise<Snippet[]>;

interface Sticky {
  start: number;
  region: number;
  snippets: Snippet[];
}

const REGION_LINES = 16;
/** Code averages 3-4 characters per token; past 8 per budget token a prefix cannot fit. */
export const MAX_CHARS_PER_TOKEN = 8;
/** The snippet query: about this much text before the cursor, never more than twice it. */
const QUERY_CHARS = 1500;
/** The workspace index's query: the last lines before the cursor (an embedding of more costs the completion time). */
const RELATED_QUERY_CHARS = 600;
/** Snippets of each kind in a prompt, at most. */
const RING_SNIPPETS = 2;
const RELATED_SNIPPETS = 2;

/** Lets the event loop run (I/O, other requests) before the next slice of work. */
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Line number of `offset` (0-based), counted without splitting the text into lines. */
function lineAt(text: string, offset: number): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * A cut of a line at or just after `pos` (never at or past `limit`) where a token can start:
 * after a blank or a punctuation character within a short distance, else at `pos` itself; never
 * between the two halves of a surrogate pair.
 */
export function safeCut(text: string, pos: number, limit: number): number {
  if (pos <= 0) return 0;
  const end = Math.min(limit, pos + 64);
  for (let i = pos; i < end; i++) {
    if (/[\s;,{}()[\]]/.test(text[i - 1]!)) return i;
  }
  const c = text.charCodeAt(pos);
  return c >= 0xdc00 && c <= 0xdfff && pos + 1 < limit ? pos + 1 : pos;
}

/**
 * BPE tokenizers put a space at the start of the next token (" foo"): a prompt ending in
 * spaces forces rare tokens and derails the model. The prompt is sent without these, and
 * post-processing takes them back off the completion.
 */
export const trailingBlanks = (prompt: string): string => /[ \t]*$/.exec(prompt)![0];

/** The prompt as sent to the model. */
const asSent = (prompt: string): string => prompt.slice(0, prompt.length - trailingBlanks(prompt).length);

export class PromptBuilder {
  private sticky = new Map<string, Sticky>();
  private counts = new Map<string, number>();

  constructor(
    private readonly countTokens: (text: string) => Promise<number>,
    private readonly ring: SnippetRing,
    private readonly related?: RelatedCode,
  ) {}

  forget(uri: string): void {
    this.sticky.delete(uri);
  }

  /** Token counts of the header and snippet texts never change: count them once. */
  private async countCached(text: string): Promise<number> {
    let n = this.counts.get(text);
    if (n === undefined) {
      n = await this.countTokens(text);
      if (this.counts.size > 500) this.counts.clear();
      this.counts.set(text, n);
    }
    return n;
  }

  async build(r: PromptRequest): Promise<BuiltPrompt> {
    const header = templateFor(r.languageId, r.path).header;
    const headerTokens = header ? await this.countCached(header) : 0;
    const prev = this.sticky.get(r.uri);
    const region = Math.floor(lineAt(r.text, r.offset) / REGION_LINES);

    // Snippets: at most a quarter of the budget.
    let snippets: Snippet[] = [];
    // Snippets are written as line comments: none for a language whose comment marker is unknown.
    if (r.crossFile && knownLanguage(r.languageId)) {
      // Ring snippets stay while their text does; related code stays for the region.
      const unchanged = (c: Snippet) => c.related || this.ring.get(c.id)?.text === c.text;
      const stillValid = prev && prev.region === region && prev.snippets.every(unchanged);
      if (stillValid) snippets = prev.snippets;
      else snippets = await this.chooseSnippets(r);
    }
    let snippetBlock = '';
    let snippetTokens = 0;
    const kept: Snippet[] = [];
    for (const chunk of snippets) {
      const block = asLineComments(`Compare this snippet from ${chunk.path}:\n${chunk.text}`, r.languageId) + '\n';
      const n = await this.countCached(block);
      if (snippetTokens + n > r.budget / 4) continue;
      snippetBlock += block;
      snippetTokens += n;
      kept.push(chunk);
    }

    const prefixBudget = Math.max(16, r.budget - headerTokens - snippetTokens);
    // The earliest start that can fit: text before it is never looked at, let alone tokenized.
    const maxChars = prefixBudget * MAX_CHARS_PER_TOKEN;
    const floor = Math.max(0, r.offset - maxChars);
    const count = async (text: string) => {
      await yieldToLoop();
      return this.countTokens(text);
    };
    let start = prev?.start ?? 0;
    // A start that cannot fit (too far back, or past the cursor), or that is no longer at a line start
    // (or, within the cursor's own long line, at a safe cut), is not kept.
    const startValid = (start: number) =>
      start >= floor &&
      start <= r.offset &&
      (start === 0 || r.text[start - 1] === '\n' || (!r.text.slice(start, r.offset).includes('\n') && safeCut(r.text, start, r.offset) === start));
    const keep = (start: number, tokens: number, ids?: number[]): BuiltPrompt => {
      this.sticky.set(r.uri, { start, region, snippets: kept });
      return { prompt: header + snippetBlock + r.text.slice(start, r.offset), tokens, ids, prefixStart: start, snippetIds: kept.map((c) => c.id) };
    };
    if (r.tokenize) {
      // One encoding of the whole prompt gives both the prefix's count and the ids to send.
      const fixedTokens = headerTokens + snippetTokens;
      const encode = async (start: number) => {
        await yieldToLoop();
        return r.tokenize!(asSent(header + snippetBlock + r.text.slice(start, r.offset)));
      };
      if (!startValid(start)) start = 0;
      // Only a prefix within the window can fit (start 0 included): do not encode anything longer.
      if (start >= floor) {
        const ids = await encode(start);
        if (ids.length - fixedTokens <= prefixBudget) return keep(start, ids.length, ids);
      }
      ({ start } = await this.fitStart(r.text, r.offset, Math.floor(prefixBudget * 0.85), prefixBudget, count));
      const ids = await encode(start);
      return keep(start, ids.length, ids);
    }
    let prefixTokens = -1;
    if (startValid(start)) {
      prefixTokens = await count(r.text.slice(start, r.offset));
      if (prefixTokens > prefixBudget) prefixTokens = -1;
    }
    if (prefixTokens < 0) {
      const whole = floor === 0 ? await count(r.text.slice(0, r.offset)) : Infinity;
      if (whole <= prefixBudget) {
        start = 0;
        prefixTokens = whole;
      } else {
        ({ start, tokens: prefixTokens } = await this.fitStart(r.text, r.offset, Math.floor(prefixBudget * 0.85), prefixBudget, count));
      }
    }
    return keep(start, headerTokens + snippetTokens + prefixTokens);
  }

  /** Ring snippets most like the code before the cursor, then related code from files they do not cover. */
  private async chooseSnippets(r: PromptRequest): Promise<Snippet[]> {
    // From a line start about QUERY_CHARS back; within a very long line, by characters.
    const lineStart = r.text.lastIndexOf('\n', Math.max(0, r.offset - QUERY_CHARS)) + 1;
    const queryStart = Math.max(lineStart, r.offset - 2 * QUERY_CHARS);
    const chosen: Snippet[] = this.ring.select(r.uri, r.text.slice(queryStart, r.offset), RING_SNIPPETS).map((c) => ({ id: c.id, path: c.path, text: c.text }));
    if (!this.related) return chosen;
    const relatedStart = Math.max(queryStart, r.offset - RELATED_QUERY_CHARS);
    const seen = new Set(chosen.map((c) => c.path));
    const related = (await this.related(r.uri, r.text.slice(relatedStart, r.offset))).filter((c) => !seen.has(c.path));
    return [...chosen, ...related.slice(0, RELATED_SNIPPETS).map((c) => ({ id: c.id, path: c.path, text: c.text, related: true }))];
  }

  /**
   * A start offset (at a line start where possible, else at a safe point within the line) leaving
   * about `target` tokens, never more than `max`; never more than MAX_CHARS_PER_TOKEN * max
   * characters before `offset`, so no count is of more than that.
   */
  private async fitStart(
    text: string,
    offset: number,
    target: number,
    max: number,
    count: (text: string) => Promise<number>,
  ): Promise<{ start: number; tokens: number }> {
    const floor = Math.max(0, offset - max * MAX_CHARS_PER_TOKEN);
    let charsPerToken = 3.5;
    let start = Math.max(floor, offset - Math.floor(target * charsPerToken));
    for (let iter = 0; iter < 6; iter++) {
      const aligned = alignToLine(text, start, offset);
      const tokens = await count(text.slice(aligned, offset));
      if (tokens <= max && (tokens >= target * 0.6 || aligned === 0)) return { start: aligned, tokens };
      if (tokens > 0) charsPerToken = Math.min(MAX_CHARS_PER_TOKEN, Math.max(1, (offset - aligned) / tokens));
      start = Math.max(floor, offset - Math.floor(target * charsPerToken * (tokens > max ? 0.9 : 1)));
    }
    // Pathological text (one huge line, or few characters per token): cut by characters.
    start = safeCut(text, Math.max(0, offset - Math.floor(target * 1.5)), offset);
    return { start, tokens: await count(text.slice(start, offset)) };
  }
}

/** The next line start at or after `pos`, unless that skips the whole remaining prefix; within a line, a safe cut. */
function alignToLine(text: string, pos: number, offset: number): number {
  if (pos <= 0) return 0;
  if (text[pos - 1] === '\n') return pos;
  // Searched within [pos, offset) only: the line may go on for megabytes after the cursor.
  const nl = pos < offset ? text.slice(pos, offset).indexOf('\n') : -1;
  return nl >= 0 ? pos + nl + 1 : safeCut(text, pos, offset);
}
