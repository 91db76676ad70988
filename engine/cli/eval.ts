/**
 * `neox eval --data FILE.jsonl --max-tokens 1024 --json`: perplexity over the first N tokens
 * of each {"text"} line, {"ppl", "tokens", "per_file": [{"index", "n", "nll"}]}.
 */
import { NeoxError } from '../types';
import type { Command } from './command';
import { UsageError } from './command';
import { loadBackend, modelOptions, num, readJsonl, str, writeOut } from './common';

const command: Command = {
  summary: 'perplexity of a model on a JSONL file of texts',
  usage: `neox eval [options] --data FILE.jsonl [--max-tokens 1024] [--json]
  --data FILE        JSONL, one {"text"} per line (other fields ignored)
  --max-tokens N     score each text's first N tokens (default 1024)
  --json             print {"ppl", "tokens", "per_file": [{"index", "n", "nll"}]}`,
  options: { ...modelOptions, data: { type: 'string' }, 'max-tokens': { type: 'string' }, json: { type: 'boolean' } },
  async run({ values, positionals, signal }) {
    const data = str(values, 'data');
    if (!data) throw new UsageError('--data FILE.jsonl is required');
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const maxTokens = num(values, 'max-tokens', { int: true, min: 2 }) ?? 1024;
    const texts = (await readJsonl(data)).map(({ line, value }) => {
      if (typeof value.text !== 'string') throw new NeoxError(`${data}:${line}: field "text" must be a string`, 'bad_input');
      return value.text;
    });
    const backend = await loadBackend(values);
    const t0 = performance.now();
    let done = 0;
    let perFile: { index: number; n: number; nll: number }[];
    try {
      const scores = await backend.score(texts, maxTokens, {
        signal,
        onText: () => {
          if (++done % 10 === 0 || done === texts.length) {
            process.stderr.write(`neox: eval ${done}/${texts.length} files, ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
          }
        },
      });
      perFile = scores.map(({ n, nll }, index) => ({ index, n, nll }));
    } catch (e) {
      if (signal.aborted) return 130;
      throw e;
    } finally {
      await backend.dispose();
    }
    const tokens = perFile.reduce((s, f) => s + f.n, 0);
    const nll = perFile.reduce((s, f) => s + f.nll, 0);
    const ppl = tokens > 0 ? Math.exp(nll / tokens) : NaN;
    if (values.json === true) await writeOut(JSON.stringify({ ppl, tokens, per_file: perFile }) + '\n');
    else await writeOut(`perplexity ${ppl.toFixed(4)} over ${tokens} tokens in ${perFile.length} files\n`);
    return 0;
  },
};
export default command;
