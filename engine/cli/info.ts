/** `neox info`: the checkpoint's architecture and sizes, and where its built model is cached. */
import type { Command } from './command';
import { UsageError } from './command';
import { loadBackend, modelOptions, writeOut } from './common';

const command: Command = {
  summary: 'architecture, sizes and cache location of a model',
  usage: 'neox info [options] [--json]',
  options: { ...modelOptions, json: { type: 'boolean' } },
  async run({ values, positionals }) {
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const backend = await loadBackend(values);
    try {
      const info = backend.runnerInfo!;
      const all = {
        ...info.summary,
        vocabSize: info.vocabSize,
        contextLength: info.contextLength,
        eosTokenId: info.eosTokenId,
        cache: info.onnxPath,
      };
      if (values.json === true) await writeOut(JSON.stringify(all) + '\n');
      else await writeOut(Object.entries(all).map(([k, v]) => `${k.padEnd(22)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join('\n') + '\n');
    } finally {
      await backend.dispose();
    }
    return 0;
  },
};
export default command;
