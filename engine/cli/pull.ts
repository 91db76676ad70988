/**
 * `neox pull ORG/NAME[@REVISION]`: download a GPT-NeoX-family checkpoint from the Hugging Face Hub into
 * the Hub cache (engine/hub/). Progress on stderr; the snapshot folder on stdout, so
 * `neox generate --model "$(neox pull EleutherAI/pythia-160m)"` works (as does `--model EleutherAI/pythia-160m`).
 */
import { findCachedSnapshot, hubCacheDir } from '../hub/cache';
import { downloadModel, offlineError, planDownload } from '../hub/download';
import { isOffline } from '../hub/env';
import { downloadLinePrefix, formatBytes, stderrReporter } from '../hub/progress';
import { parseHubRef } from '../hub/resolve';
import type { Command } from './command';
import { UsageError } from './command';
import { num, writeOut } from './common';

const command: Command = {
  summary: 'download a model from the Hugging Face Hub into its cache',
  usage: `neox pull ORG/NAME[@REVISION] [--concurrency N]

  Downloads config.json, the tokenizer files and the weights (safetensors, else pytorch_model*.bin) of a
  Hub repository into the Hugging Face cache, resuming partial downloads and checking every file's hash;
  prints the snapshot folder to use as --model. REVISION is a branch, tag or commit (default main).
  --concurrency N    files downloaded at once (default 4)

Environment: HF_ENDPOINT (a mirror), HF_TOKEN (gated or private models), HF_HUB_CACHE / HF_HOME (the
cache folder, default ~/.cache/huggingface/hub), HF_HUB_OFFLINE=1 (no network: only the cache).`,
  options: { concurrency: { type: 'string' } },
  async run({ values, positionals, signal }) {
    if (positionals.length !== 1) throw new UsageError('expected one repository, as in: neox pull EleutherAI/pythia-160m');
    const ref = parseHubRef(positionals[0]!);
    if (!ref) throw new UsageError(`"${positionals[0]}" is not a Hub repository id (ORG/NAME or ORG/NAME@REVISION)`);
    const concurrency = num(values, 'concurrency', { int: true, min: 1, max: 16 }) ?? 4;
    const cacheDir = hubCacheDir();
    const label = `${ref.repo}@${ref.revision}`;
    const prefix = downloadLinePrefix('pull', label);
    if (isOffline()) {
      const cached = findCachedSnapshot(ref.repo, ref.revision, cacheDir);
      if (!cached) throw offlineError(ref.repo, ref.revision, cacheDir);
      process.stderr.write(`${prefix}: HF_HUB_OFFLINE is set; using the cached snapshot\n`);
      await writeOut(cached.dir + '\n');
      return 0;
    }
    const plan = await planDownload(ref.repo, ref.revision, { cacheDir, signal });
    const todo = plan.files.filter((f) => !f.cached);
    process.stderr.write(
      `${prefix} (commit ${plan.commit.slice(0, 12)}): ${plan.files.length} files, ${formatBytes(plan.totalBytes)}; ` +
        (todo.length ? `${formatBytes(plan.downloadBytes)} to download into ${plan.repoDir}\n` : `already in ${plan.repoDir}\n`),
    );
    const reporter = stderrReporter('pull');
    const t0 = performance.now();
    try {
      const dir = await downloadModel(plan, { cacheDir, signal, concurrency, onProgress: todo.length ? reporter.update : undefined });
      reporter.end();
      if (todo.length) process.stderr.write(`${prefix}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
      await writeOut(dir + '\n');
      return 0;
    } catch (e) {
      reporter.end();
      if (signal.aborted) {
        process.stderr.write(`${prefix}: interrupted; run the same command again to resume\n`);
        return 130;
      }
      throw e;
    }
  },
};
export default command;
