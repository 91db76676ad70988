/**
 * Download progress: bytes done of the total, speed over the last few seconds and time left.
 * `DownloadProgress` is what the downloader reports (the editor shows it in a notification);
 * `stderrReporter` draws it for the CLI.
 */

export type { DownloadProgress } from '../types';
import type { DownloadProgress } from '../types';

const WINDOW_MS = 5000;

/** Bytes per second over a sliding window of recent samples. */
export class SpeedMeter {
  private samples: { t: number; bytes: number }[] = [];
  private received = 0;

  constructor(private readonly now: () => number = () => performance.now()) {}

  add(bytes: number): void {
    this.received += bytes;
    const t = this.now();
    this.samples.push({ t, bytes: this.received });
    while (this.samples.length > 2 && t - this.samples[0]!.t > WINDOW_MS) this.samples.shift();
  }

  bytesPerSecond(): number {
    if (this.samples.length < 2) return 0;
    const a = this.samples[0]!;
    const b = this.samples.at(-1)!;
    const dt = (b.t - a.t) / 1000;
    return dt > 0 ? (b.bytes - a.bytes) / dt : 0;
  }
}

export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** "45% 620 MB / 1.38 GB, 12.3 MB/s, 1 min 02 s left, 3/7 files" */
export function formatProgress(p: DownloadProgress): string {
  const pct = p.totalBytes > 0 ? Math.floor((p.doneBytes / p.totalBytes) * 100) : 100;
  const parts = [`${pct}% ${formatBytes(p.doneBytes)} / ${formatBytes(p.totalBytes)}`];
  if (p.bytesPerSecond > 0) parts.push(`${formatBytes(Math.round(p.bytesPerSecond))}/s`);
  if (p.secondsLeft !== undefined && p.doneBytes < p.totalBytes) parts.push(`${formatDuration(p.secondsLeft)} left`);
  parts.push(`${p.filesDone}/${p.filesTotal} files`);
  return parts.join(', ');
}

/**
 * Why the CLI is downloading, the word its progress lines start with: `neox pull` was asked to, or a
 * command given `--model ORG/NAME` fetches what it needs from the Hub first.
 */
export type DownloadAction = 'pull' | 'download';

/** The start of every line the CLI writes about one download: "neox: download ORG/NAME". */
export const downloadLinePrefix = (action: DownloadAction, repo: string) => `neox: ${action} ${repo}`;

/**
 * Progress on stderr for the CLI: on a terminal one line redrawn at most 5 times a second; otherwise
 * (a pipe, a CI log) a line per 10% or per 10 seconds; plus a line per file started or resumed.
 */
export function stderrReporter(action: DownloadAction, stream: NodeJS.WriteStream = process.stderr): { update(p: DownloadProgress): void; end(): void } {
  const tty = stream.isTTY === true;
  let lastDraw = 0;
  let lastDecile = -1;
  let drawn = false;
  const write = (line: string) => {
    if (tty) {
      stream.write(`\r\x1b[K${line}`);
      drawn = true;
    } else stream.write(line + '\n');
  };
  return {
    update(p) {
      const now = performance.now();
      if (p.file && (p.event === 'start' || p.event === 'resume')) {
        const what = p.event === 'start' ? 'downloading' : 'resuming';
        if (tty && drawn) stream.write('\n');
        drawn = false;
        stream.write(`${downloadLinePrefix(action, p.repo)}: ${what} ${p.file}\n`);
      }
      const decile = p.totalBytes > 0 ? Math.floor((p.doneBytes / p.totalBytes) * 10) : 10;
      const due = tty ? now - lastDraw >= 200 : decile !== lastDecile || now - lastDraw >= 10_000;
      if (!due && p.event !== 'done') return;
      lastDraw = now;
      lastDecile = decile;
      write(`${downloadLinePrefix(action, p.repo)}: ${formatProgress(p)}`);
    },
    end() {
      if (tty && drawn) stream.write('\n');
      drawn = false;
    },
  };
}
