/** `neox tokenize --input texts.jsonl --json`: for each {"text"} line, a {"ids"} line. */
import { NeoxError } from '../types';
import { loadTokenizer } from '../local/tokenizer';
import type { FileSelection } from '../hub/download';
import type { Command } from './command';
import { UsageError } from './command';
import { readJsonl, resolveModelArg, str, writeOut } from './common';

/**
 * What tokenizing reads from a checkpoint (loadTokenizer: tokenizer.json and, when the checkpoint has
 * one, tokenizer_config.json), plus config.json so that the cached snapshot names its model: a Hub id
 * that is not cached downloads these few files, not the weights.
 */
const TOKENIZER_FILES: FileSelection = { required: ['tokenizer.json'], optional: ['tokenizer_config.json', 'config.json'] };

const command: Command = {
  summary: "token ids of texts (the checkpoint's tokenizer.json)",
  usage: `neox tokenize [--model DIR|ORG/NAME[@REVISION]] "TEXT"
neox tokenize [--model DIR|ORG/NAME[@REVISION]] --input texts.jsonl --json     ({"text"} lines -> {"ids"} lines)

  --model   a checkpoint folder, or a Hub id taken from the Hugging Face cache; when it is not cached, only
            tokenizer.json, tokenizer_config.json and config.json are downloaded (default: the embedded model)

Environment: HF_ENDPOINT (a mirror), HF_TOKEN (gated or private models), HF_HUB_CACHE / HF_HOME (the
cache folder, default ~/.cache/huggingface/hub), HF_HUB_OFFLINE=1 (no network: only the cache).`,
  options: { model: { type: 'string' }, input: { type: 'string' }, json: { type: 'boolean' } },
  async run({ values, positionals, signal }) {
    const input = str(values, 'input');
    if (input && positionals.length) throw new UsageError('give either --input FILE or a TEXT, not both');
    if (!input && positionals.length !== 1) throw new UsageError('expected one TEXT argument or --input FILE');
    const texts = input
      ? (await readJsonl(input)).map(({ line, value }) => {
          if (typeof value.text !== 'string') throw new NeoxError(`${input}:${line}: field "text" must be a string`, 'bad_input');
          return value.text;
        })
      : [positionals[0]!];
    // Tokenizing needs only the tokenizer's files: no model build or load.
    const tok = await loadTokenizer(await resolveModelArg(values, signal, TOKENIZER_FILES));
    for (const t of texts) await writeOut(JSON.stringify({ ids: tok.encode(t) }) + '\n');
    return 0;
  },
};
export default command;
