/** What "NeoX: Download model" shows, as pure functions (no vscode import, so node:test covers them). */
import type { DownloadProgressParams } from '../../protocol/index';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The input box's check of ORG/NAME[@REVISION]: an error message, or undefined when it is valid. */
export function validateHubId(value: string): string | undefined {
  const v = value.trim();
  if (!v) return 'A Hugging Face Hub id: ORG/NAME or ORG/NAME@REVISION, e.g. EleutherAI/pythia-1.4b';
  const at = v.indexOf('@');
  const id = at < 0 ? v : v.slice(0, at);
  const parts = id.split('/');
  if (parts.length !== 2 || !parts.every((p) => NAME.test(p) && !p.endsWith('.'))) return 'ORG/NAME: letters, digits, ".", "-" and "_", one slash (e.g. EleutherAI/pythia-1.4b)';
  if (at >= 0) {
    const rev = v.slice(at + 1);
    if (!rev || /[\s\\:@]/.test(rev) || rev.split('/').some((p) => p === '' || p === '.' || p === '..')) return 'REVISION after "@": a branch, tag or commit (e.g. main)';
  }
  return undefined;
}

/** "620 MB", "1.38 GB", "512 kB": decimal units. */
export function formatSize(n: number): string {
  if (n < 1000) return `${Math.max(0, Math.round(n))} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

/** "42 s", "3 min 05 s", "1 h 07 min". */
export function formatTimeLeft(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** The fraction done, 0..1 (1 for an empty download). */
export function downloadFraction(p: Pick<DownloadProgressParams, 'doneBytes' | 'totalBytes'>): number {
  return p.totalBytes > 0 ? Math.min(1, Math.max(0, p.doneBytes / p.totalBytes)) : 1;
}

/**
 * The notification's message line: "45% · 620 MB of 1.38 GB · 12.3 MB/s · 1 min 02 s left · 3/7 files",
 * with the file being fetched ("model-00002-of-00003.safetensors") when there is one.
 */
export function downloadProgressMessage(p: DownloadProgressParams, file?: string): string {
  const parts = [`${Math.floor(downloadFraction(p) * 100)}%`, `${formatSize(p.doneBytes)} of ${formatSize(p.totalBytes)}`];
  if (p.bytesPerSecond > 0) parts.push(`${formatSize(p.bytesPerSecond)}/s`);
  if (p.secondsLeft !== undefined && p.doneBytes < p.totalBytes) parts.push(`${formatTimeLeft(p.secondsLeft)} left`);
  parts.push(`${p.filesDone}/${p.filesTotal} files`);
  if (file) parts.push(file);
  return parts.join(' · ');
}

/**
 * withProgress takes increments (percent points added since the last report) and never goes back:
 * the increment for `fraction` after `reported` percent, and the new total.
 */
export function progressIncrement(reported: number, fraction: number): { increment: number; reported: number } {
  const pct = Math.floor(Math.min(1, Math.max(0, fraction)) * 100);
  return pct > reported ? { increment: pct - reported, reported: pct } : { increment: 0, reported };
}

/** The message when the download is done. */
export function downloadDoneMessage(r: { repo: string; revision: string; totalBytes: number; downloadedBytes: number }): string {
  const rev = r.revision === 'main' ? '' : `@${r.revision}`;
  const what = r.downloadedBytes > 0 ? `downloaded (${formatSize(r.totalBytes)})` : `already in the Hugging Face cache (${formatSize(r.totalBytes)})`;
  return `${r.repo}${rev} ${what}.`;
}
