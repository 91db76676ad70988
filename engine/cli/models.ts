/**
 * `neox models`: the curated GPT-NeoX-family catalogue (engine/catalogue.json) for this machine: download
 * size, memory needed at each precision, which precisions fit the memory available, and which models are
 * already in the Hugging Face cache (engine/hub/cache.ts). No network.
 */
import { listCatalogue, type CatalogueListing } from '../catalogue';
import { formatMemory } from '../local/memory';
import { QUANTIZATIONS } from '../types';
import type { Command } from './command';
import { UsageError } from './command';
import { num, writeOut } from './common';

function formatParameters(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(1)}B` : `${Math.round(n / 1e6)}M`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

function fitsText(m: CatalogueListing): string {
  const fit = QUANTIZATIONS.filter((q) => m.fits[q]);
  return fit.length ? fit.join(' ') : 'none';
}

const command: Command = {
  summary: 'GPT-NeoX-family models to download: sizes, memory per precision, what fits here, what is cached',
  usage: `neox models [--json] [--free-memory-mb N]

  Lists the curated catalogue of GPT-NeoX-family models on the Hugging Face Hub with their download size,
  the memory each precision needs (first start: conversion, load and a 2048-token KV cache), whether it
  fits the memory available here, and whether it is already in the Hugging Face cache. Get one with
  neox pull ORG/NAME.
  --json              one JSON object: {free, contextTokens, hubCache, models: [...]}
  --free-memory-mb N  judge the fit against N megabytes instead of the memory available now`,
  options: { json: { type: 'boolean' }, 'free-memory-mb': { type: 'string' } },
  async run({ values, positionals }) {
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const mb = num(values, 'free-memory-mb', { min: 0 });
    const result = listCatalogue({ freeBytes: mb === undefined ? undefined : mb * 1e6 });
    if (values.json === true) {
      await writeOut(JSON.stringify({ ...result, models: result.models.map((m) => ({ ...m, cached: !!m.cachedDir })) }) + '\n');
      return 0;
    }
    const rows = [
      ['MODEL', 'PARAMS', 'DOWNLOAD', 'FP32', 'INT8', 'INT4', 'FITS', 'CACHED'],
      ...result.models.map((m) => [
        m.repo,
        formatParameters(m.parameters),
        formatMemory(m.downloadBytes),
        ...QUANTIZATIONS.map((q) => formatMemory(m.memoryBytes[q])),
        fitsText(m),
        m.cachedDir ? 'yes' : '',
      ]),
    ];
    const source = result.free.source === 'option' ? '--free-memory-mb' : result.free.source;
    await writeOut(
      `${table(rows)}\n\n` +
        `Memory available: ${formatMemory(result.free.bytes)} (${source}). Memory: conversion, load and a ${result.contextTokens}-token KV cache;\n` +
        `int4 at block size 32. Cached: a complete snapshot in ${result.hubCache}. Download: neox pull ORG/NAME.\n`,
    );
    return 0;
  },
};
export default command;
