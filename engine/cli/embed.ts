/**
 * `neox embed --input texts.jsonl --layer K --pooling mean|last [--normalize] --json`: for each
 * {"text"} line, an {"embedding": [...]} line (engine/local/embeddings.ts).
 */
import { NeoxError } from '../types';
import type { Command } from './command';
import { UsageError } from './command';
import { loadBackend, modelOptions, num, readJsonl, str, writeOut } from './common';
import { POOLINGS, type Pooling } from '../local/runner';

const command: Command = {
  summary: "embeddings of texts (a layer's hidden states, mean- or last-token-pooled)",
  usage: `neox embed [options] --input texts.jsonl [--layer K] [--pooling mean|last] [--normalize] --json
neox embed [options] "TEXT" [--layer K] [--pooling mean|last] [--normalize]
  --input FILE       JSONL, one {"text"} per line (other fields ignored)
  --layer K          hidden state to pool, numbered as transformers' output_hidden_states: 0 = token
                     embeddings, k = output of block k, the block count = after the final layer norm
                     (the default)
  --pooling P        mean (default: over the text's tokens) or last (the last token)
  --normalize        scale each vector to unit length (L2)
  --truncate         keep a text's first context-length tokens instead of refusing a longer one
  --json             print {"embedding": [...]} per text`,
  options: {
    ...modelOptions,
    input: { type: 'string' },
    layer: { type: 'string' },
    pooling: { type: 'string' },
    normalize: { type: 'boolean' },
    truncate: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run({ values, positionals, signal }) {
    const input = str(values, 'input');
    if (input && positionals.length) throw new UsageError('give either --input FILE or a TEXT, not both');
    if (!input && positionals.length !== 1) throw new UsageError('expected one TEXT argument or --input FILE');
    const layer = num(values, 'layer', { int: true, min: 0 });
    const pooling = str(values, 'pooling') ?? 'mean';
    if (!POOLINGS.includes(pooling as Pooling)) throw new UsageError(`--pooling must be one of ${POOLINGS.join(', ')} (got "${pooling}")`);
    const texts = input
      ? (await readJsonl(input)).map(({ line, value }) => {
          if (typeof value.text !== 'string') throw new NeoxError(`${input}:${line}: field "text" must be a string`, 'bad_input');
          return value.text;
        })
      : [positionals[0]!];
    const backend = await loadBackend(values, { signal });
    let vectors: number[][];
    try {
      const layers = backend.runnerInfo?.numLayers ?? 0;
      if (layer !== undefined && layer > layers) throw new UsageError(`--layer must be an integer in 0..${layers} for this model (got ${layer})`);
      vectors = await backend.embed(texts, { layer, pooling: pooling as Pooling, normalize: values.normalize === true, truncate: values.truncate === true, signal });
    } catch (e) {
      if (signal.aborted) return 130;
      throw e;
    } finally {
      await backend.dispose();
    }
    for (const v of vectors) {
      if (values.json === true) await writeOut(JSON.stringify({ embedding: v }) + '\n');
      else {
        const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
        await writeOut(`${v.length} dims, norm ${norm.toFixed(4)}: [${v.slice(0, 4).map((x) => x.toFixed(4)).join(', ')}, ...]\n`);
      }
    }
    return 0;
  },
};
export default command;
