/** How the model picker names a model the server lists (no vscode import, so node:test covers it). */
import type { HubModelListing, ListedAdapter, ListedModel, Quantization } from '../../protocol/index';
import { lastSegment } from '../status-text';

/**
 * A listed model as a picker row: its name as the label (never a path: a long path pushes everything
 * else out of the row), backend and "current" beside it, the folder or URL as the detail line.
 */
export function modelPickRow(m: ListedModel): { label: string; description: string; detail?: string } {
  if (m.hub) return hubPickRow({ ...m, hub: m.hub });
  // An older server sends no name: a local id is a folder, a remote id is already a name.
  const name = m.name || (m.backend === 'local' ? lastSegment(m.id) : m.id) || 'default model';
  const description = [m.backend, m.embedded ? 'built in' : undefined, m.current ? 'current' : undefined].filter(Boolean).join(' · ');
  const detail = m.embedded ? 'The embedded demonstration model' : m.location || m.description;
  return { label: `${m.current ? '$(check) ' : ''}${name}`, description, detail };
}

/** "0.7 GB", "18 GB", "45 MB": decimal units, as `neox models` prints them. */
export function formatBytes(bytes: number): string {
  if (bytes >= 10e9) return `${Math.round(bytes / 1e9)} GB`;
  if (bytes >= 0.1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  return `${Math.max(1, Math.round(bytes / 1e6))} MB`;
}

/** "70M", "1.4B", "20.6B". */
export function formatParameters(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(1)}B` : `${Math.round(n / 1e6)}M`;
}

const PRECISIONS: readonly Quantization[] = ['fp32', 'int8', 'int4'];

/** The most precise precision that fits, if any. */
export function bestFit(hub: HubModelListing): Quantization | undefined {
  return PRECISIONS.find((q) => hub.fits[q]);
}

/**
 * A catalogue model as a picker row. The detail is the memory at the selected precision and whether it
 * fits: "1.4B · int8 ≈ 3.0 GB · fits", or "20.6B · int8 needs 31 GB; 16 GB free · int4 fits (19 GB)".
 */
export function hubPickRow(m: ListedModel & { hub: HubModelListing }): { label: string; description: string; detail: string } {
  const h = m.hub;
  const q = h.quantization;
  const need = h.memoryBytes[q];
  let detail = `${formatParameters(h.parameters)} · `;
  if (h.fits[q]) detail += `${q} ≈ ${formatBytes(need)} · fits`;
  else {
    detail += `${q} needs ${formatBytes(need)}; ${formatBytes(h.freeBytes)} free`;
    const other = bestFit(h);
    detail += other ? ` · ${other} fits (${formatBytes(h.memoryBytes[other])})` : ' · too big for this machine';
  }
  const description = [h.repo, h.cachedDir ? 'downloaded' : `${formatBytes(h.downloadBytes)} download`, m.current ? 'current' : undefined].filter(Boolean).join(' · ');
  const icon = m.current ? '$(check) ' : h.cachedDir ? '' : '$(cloud-download) ';
  return { label: `${icon}${m.name || h.repo}`, description, detail };
}

/** The command that downloads a Hub model in the editor, when the extension has it. */
export const DOWNLOAD_COMMAND = 'neoxComplete.downloadModel';

export type HubPickAction =
  /** Cached: use the snapshot folder; `quantization` when the selected one does not fit but another does. */
  | { kind: 'use'; modelPath: string; quantization?: Quantization; warning?: string }
  /** Not cached: run the download command with the Hub id. */
  | { kind: 'download'; command: string; repo: string }
  /** Not cached and no download command: tell the user what to run. */
  | { kind: 'pull'; message: string; shellCommand: string };

/** What choosing a catalogue row does, given the commands the editor has. */
export function hubPickAction(m: { hub: HubModelListing }, commands: readonly string[]): HubPickAction {
  const h = m.hub;
  if (h.cachedDir) {
    if (h.fits[h.quantization]) return { kind: 'use', modelPath: h.cachedDir };
    const other = bestFit(h);
    if (other) return { kind: 'use', modelPath: h.cachedDir, quantization: other };
    return {
      kind: 'use',
      modelPath: h.cachedDir,
      warning: `${h.repo} needs about ${formatBytes(h.memoryBytes.int4)} even at int4; ${formatBytes(h.freeBytes)} is free. Loading it will fail unless memory is freed.`,
    };
  }
  if (commands.includes(DOWNLOAD_COMMAND)) return { kind: 'download', command: DOWNLOAD_COMMAND, repo: h.repo };
  const shellCommand = `neox pull ${h.repo}`;
  return {
    kind: 'pull',
    shellCommand,
    message: `${h.repo} is not downloaded yet (${formatBytes(h.downloadBytes)}). Run \`${shellCommand}\` in a terminal, then pick it again.`,
  };
}

/**
 * The picker's LoRA adapter rows: "No adapter" first, then each adapter the server lists, the chosen one
 * checked; `adapter` is what choosing the row sets neoxComplete.adapter to ('' for none).
 */
export function adapterPickRows(adapters: readonly ListedAdapter[]): { label: string; description: string; detail?: string; adapter: string }[] {
  const none = !adapters.some((a) => a.current);
  return [
    { label: `${none ? '$(check) ' : ''}No adapter`, description: none ? 'current' : '', detail: 'The model as it is', adapter: '' },
    ...adapters.map((a) => ({
      label: `${a.current ? '$(check) ' : ''}${a.problem ? '$(warning) ' : ''}${a.name}`,
      description: ['LoRA', a.current ? 'current' : undefined].filter(Boolean).join(' · '),
      detail: `${a.description} · ${a.path}`,
      adapter: a.path,
    })),
  ];
}
