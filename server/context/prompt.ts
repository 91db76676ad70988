/**
 * Builds the prompt for an inline completion: template header (path, language), snippets
 * from other files, then the document text before the cursor, within a token budget.
 *
 * GPT-NeoX has no fill-in-the-middle: the text after the cursor is not part of the prompt
 * (the post-processing rules use it to stop and strip).
 *
 * Prompts are kept stable while the user types so the engine's prefix KV cache hits:
 * - the prefix start stays put (sticky per document) until the prefix outgrows the budget,
 *   and then moves forward far enough (to 85% of the budget) to stay put for a while again;
 * - the snippet choice stays the same while the cursor stays in the same 16-line region and
 *   the chosen chunks are unchanged.
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

interface Sticky {
  start: number;
  region: number;
  snippetIds: string[];
  snippetTexts: string[];
}

const REGION_LINES = 16;

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
    const line = r.text.slice(0, r.offset).split('\n').length - 1;
    const region = Math.floor(line / REGION_LINES);

    // Snippets: at most a quarter of the budget.
    let snippetIds: string[] = [];
    let snippetTexts: string[] = [];
    // Snippets are written as line comments: none for a language whose comment marker is unknown.
    if (r.crossFile && knownLanguage(r.languageId)) {
      const stillValid =
        prev &&
        prev.region === region &&
        prev.snippetIds.every((id, i) => this.ring.get(id)?.text === prev.snippetTexts[i]);
      if (stillValid) {
        snippetIds = prev.snippetIds;
        snippetTexts = prev.snippetTexts;
      } else {
        const queryStart = r.text.lastIndexOf('\n', Math.max(0, r.offset - 1500)) + 1;
        const chosen = this.ring.select(r.uri, r.text.slice(queryStart, r.offset));
        snippetIds = chosen.map((c) => c.id);
        snippetTexts = chosen.map((c) => c.text);
      }
    }
    let snippetBlock = '';
    let snippetTokens = 0;
    const keptIds: string[] = [];
    for (let i = 0; i < snippetIds.length; i++) {
      const chunk = this.ring.get(snippetIds[i]!);
      if (!chunk) continue;
      const block = asLineComments(`Compare this snippet from ${chunk.path}:\n${chunk.text}`, r.languageId) + '\n';
      const n = await this.countCached(block);
      if (snippetTokens + n > r.budget / 4) continue;
      snippetBlock += block;
      snippetTokens += n;
      keptIds.push(snippetIds[i]!);
    }

    const prefixBudget = Math.max(16, r.budget - headerTokens - snippetTokens);
    let start = prev?.start ?? 0;
    const keep = (start: number, tokens: number, ids?: number[]): BuiltPrompt => {
      this.sticky.set(r.uri, { start, region, snippetIds: keptIds, snippetTexts: keptIds.map((id) => this.ring.get(id)!.text) });
      return { prompt: header + snippetBlock + r.text.slice(start, r.offset), tokens, ids, prefixStart: start, snippetIds: keptIds };
    };
    if (r.tokenize) {
      // One encoding of the whole prompt gives both the prefix's count and the ids to send.
      const fixedTokens = headerTokens + snippetTokens;
      const encode = (start: number) => r.tokenize!(asSent(header + snippetBlock + r.text.slice(start, r.offset)));
      if (!(start <= r.offset && (start === 0 || r.text[start - 1] === '\n'))) start = 0;
      // Past ~8 characters per budget token (code averages 3-4) the prefix cannot fit: do not encode it.
      if (r.offset - start <= prefixBudget * 8) {
        const ids = await encode(start);
        if (ids.length - fixedTokens <= prefixBudget) return keep(start, ids.length, ids);
      }
      ({ start } = await this.fitStart(r.text, r.offset, Math.floor(prefixBudget * 0.85), prefixBudget));
      const ids = await encode(start);
      return keep(start, ids.length, ids);
    }
    let prefixTokens = -1;
    if (start <= r.offset && (start === 0 || r.text[start - 1] === '\n')) {
      prefixTokens = await this.countTokens(r.text.slice(start, r.offset));
      if (prefixTokens > prefixBudget) prefixTokens = -1;
    }
    if (prefixTokens < 0) {
      // Counting a whole big file costs hundreds of ms; past ~8 characters per budget token
      // (code averages 3-4) it cannot fit anyway.
      const whole = r.offset <= prefixBudget * 8 ? await this.countTokens(r.text.slice(0, r.offset)) : Infinity;
      if (whole <= prefixBudget) {
        start = 0;
        prefixTokens = whole;
      } else {
        ({ start, tokens: prefixTokens } = await this.fitStart(r.text, r.offset, Math.floor(prefixBudget * 0.85), prefixBudget));
      }
    }
    return keep(start, headerTokens + snippetTokens + prefixTokens);
  }

  /** A start offset (at a line start where possible) leaving about `target` tokens, never more than `max`. */
  private async fitStart(text: string, offset: number, target: number, max: number): Promise<{ start: number; tokens: number }> {
    let charsPerToken = 3.5;
    let start = Math.max(0, offset - Math.floor(target * charsPerToken));
    for (let iter = 0; iter < 6; iter++) {
      const aligned = alignToLine(text, start, offset);
      const tokens = await this.countTokens(text.slice(aligned, offset));
      if (tokens <= max && (tokens >= target * 0.6 || aligned === 0)) return { start: aligned, tokens };
      if (tokens > 0) charsPerToken = Math.max(1, (offset - aligned) / tokens);
      start = Math.max(0, offset - Math.floor(target * charsPerToken * (tokens > max ? 0.9 : 1)));
    }
    // Pathological text (one huge line): cut by characters.
    start = Math.max(0, offset - Math.floor(target * 1.5));
    return { start, tokens: await this.countTokens(text.slice(start, offset)) };
  }
}

/** The next line start at or after `pos`, unless that skips the whole remaining prefix. */
function alignToLine(text: string, pos: number, offset: number): number {
  if (pos <= 0) return 0;
  if (text[pos - 1] === '\n') return pos;
  const nl = text.indexOf('\n', pos);
  return nl >= 0 && nl < offset ? nl + 1 : pos;
}
