/**
 * Prompt token counts for remote models. The GPT-NeoX family (GPT-NeoX-20B, Pythia,
 * RedPajama-INCITE) shares the GPT-NeoX-20B tokenizer, which ships with the default model,
 * so counts are exact for them; `tokenizerPath` points at another model's tokenizer.json.
 * Without any tokenizer file we estimate (3 characters per token, on the high side for
 * code, so a budget built on it does not overflow the server's context).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tokenizer } from '@huggingface/tokenizers';
import { tokenizerFromJson } from '../local/tokenizer';
import { NeoxError } from '../types';

const BUNDLED = join('models', 'neox-code-23m', 'tokenizer.json');

/** Find the bundled tokenizer from this module's location (source tree or dist/ bundle alike). */
function bundledTokenizerPath(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, BUNDLED);
    if (existsSync(p)) return p;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

export class TokenCounter {
  private tokenizer?: Tokenizer;
  private readonly path?: string;
  readonly exact: boolean;

  constructor(tokenizerPath?: string) {
    this.path = tokenizerPath ?? bundledTokenizerPath();
    this.exact = !!this.path;
  }

  count(text: string): number {
    if (!this.path) return Math.ceil(text.length / 3);
    // Parsed on first use: the JSON is a few MB and many backends never count.
    this.tokenizer ??= load(this.path);
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids.length;
  }
}

function load(path: string): Tokenizer {
  let json: object;
  try {
    json = JSON.parse(readFileSync(path, 'utf8')) as object;
  } catch (e) {
    throw new NeoxError(`Cannot read tokenizer ${path}: ${(e as Error).message}`, 'bad_setting');
  }
  return tokenizerFromJson(path, json);
}
