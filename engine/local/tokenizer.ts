/**
 * The checkpoint's tokenizer (tokenizer.json, Hugging Face tokenizers format) through
 * @huggingface/tokenizers, plus an incremental detokenizer for streaming.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { NeoxError } from '../types';

export interface NeoxTokenizer {
  /** Token ids of `text` (no special tokens added: GPT-NeoX prompts start without BOS). */
  encode(text: string): number[];
  /** Text of `ids`, special tokens kept, spaces never "cleaned up". */
  decode(ids: number[]): string;
  /** tokenizer_config.json next to tokenizer.json, or {} when the checkpoint has none. */
  readonly config: Record<string, unknown>;
  /** Id of the end-of-text token named by the config (or `<|endoftext|>`), if the vocabulary has it. */
  readonly eosTokenId: number | undefined;
}

async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new NeoxError(`${file}: cannot read ${what} (${code ?? (e as Error).message})`, 'bad_tokenizer');
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new NeoxError(`${file}: ${what} is not valid JSON (${(e as Error).message})`, 'bad_tokenizer');
  }
}

async function readOptionalConfig(file: string): Promise<Record<string, unknown>> {
  try {
    await readFile(file);
  } catch {
    return {};
  }
  const json = await readJson(file, 'tokenizer config');
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new NeoxError(`${file}: expected a JSON object`, 'bad_tokenizer');
  }
  return json as Record<string, unknown>;
}

function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') {
    return (v as { content: string }).content;
  }
  return undefined;
}

/**
 * The one place a Hugging Face tokenizer is built from its parsed tokenizer.json (`file` names it in
 * errors). Decoding keeps spaces as they are: the library's clean-up turns "a , b" into "a, b".
 */
export function tokenizerFromJson(file: string, json: object, config: Record<string, unknown> = {}): Tokenizer {
  try {
    const tok = new Tokenizer(json, { ...config, clean_up_tokenization_spaces: false });
    tok.encode('a'); // surface lazy failures (bad merges/vocab) here, not mid-request
    return tok;
  } catch (e) {
    throw new NeoxError(`${file}: invalid tokenizer (${(e as Error).message})`, 'bad_tokenizer');
  }
}

/** Load `modelDir/tokenizer.json` (+ optional tokenizer_config.json). Errors name the file. */
export async function loadTokenizer(modelDir: string): Promise<NeoxTokenizer> {
  const file = join(modelDir, 'tokenizer.json');
  const json = await readJson(file, 'tokenizer');
  const model = (json as { model?: { type?: unknown } } | null)?.model;
  if (!model || typeof model !== 'object') {
    throw new NeoxError(`${file}: not a Hugging Face tokenizer (missing field "model")`, 'bad_tokenizer');
  }
  const config = await readOptionalConfig(join(modelDir, 'tokenizer_config.json'));
  const tok = tokenizerFromJson(file, json as object, config);
  const eosName = tokenContent(config.eos_token) ?? '<|endoftext|>';
  const eosTokenId = tok.token_to_id(eosName);
  return {
    config,
    eosTokenId,
    encode: (text) => tok.encode(text, { add_special_tokens: false }).ids,
    decode: (ids) => (ids.length === 0 ? '' : tok.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false })),
  };
}

/**
 * Turns a stream of token ids into a stream of text without ever emitting half a character.
 * Byte-level BPE tokens can end inside a multi-byte UTF-8 sequence; decoding such a prefix
 * yields a trailing U+FFFD, which we hold back until a later token completes the character.
 * Decodes a short window (from the last emitted boundary) rather than the whole sequence,
 * so each step costs O(tokens since the last complete character).
 */
export class IncrementalDecoder {
  private ids: number[] = [];
  /** ids[start..] are decoded but not yet emitted (they end inside a character). */
  private start = 0;

  constructor(private readonly tokenizer: Pick<NeoxTokenizer, 'decode'>) {}

  /** Append one token; returns the newly completed text (possibly ''). */
  push(id: number): string {
    this.ids.push(id);
    const text = this.tokenizer.decode(this.ids.slice(this.start));
    if (text.endsWith('\uFFFD')) return ''; // incomplete character: wait for the next token
    this.start = this.ids.length; // everything so far ends on a character boundary
    return text;
  }

  /** Whatever is still held back (an incomplete character when generation ends), as decoded. */
  flush(): string {
    if (this.start >= this.ids.length) return '';
    const text = this.tokenizer.decode(this.ids.slice(this.start));
    this.start = this.ids.length;
    return text;
  }

  get tokenIds(): readonly number[] {
    return this.ids;
  }
}
