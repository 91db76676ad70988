/** `neox tokenize --input texts.jsonl --json`: for each {"text"} line, a {"ids"} line. */
import { resolve } from 'node:path';
import { NeoxError } from '../types';
import { loadTokenizer } from '../local/tokenizer';
import type { Command } from './command';
import { UsageError } from './command';
import { readJsonl, str, writeOut } from './common';
import { defaultModelDir } from '../assets';

const command: Command = {
  summary: "token ids of texts (the checkpoint's tokenizer.json)",
  usage: `neox tokenize [--model DIR] "TEXT"
neox tokenize [--model DIR] --input texts.jsonl --json     ({"text"} lines -> {"ids"} lines)`,
  options: { model: { type: 'string' }, input: { type: 'string' }, json: { type: 'boolean' } },
  async run({ values, positionals }) {
    const input = str(values, 'input');
    if (input && positionals.length) throw new UsageError('give either --input FILE or a TEXT, not both');
    if (!input && positionals.length !== 1) throw new UsageError('expected one TEXT argument or --input FILE');
    const texts = input
      ? (await readJsonl(input)).map(({ line, value }) => {
          if (typeof value.text !== 'string') throw new NeoxError(`${input}:${line}: field "text" must be a string`, 'bad_input');
          return value.text;
        })
      : [positionals[0]!];
    // Tokenizing needs only tokenizer.json: no model build or load.
    const tok = await loadTokenizer(resolve(str(values, 'model') ?? defaultModelDir()));
    for (const t of texts) await writeOut(JSON.stringify({ ids: tok.encode(t) }) + '\n');
    return 0;
  },
};
export default command;
