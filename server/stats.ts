/**
 * Local usage statistics: shown / accepted / partially accepted / dismissed counts, request
 * counts and latency percentiles. Kept on the user's machine only: in memory, and in
 * <storagePath>/statistics.json when the client gives a storage folder. Nothing is sent anywhere.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CompletionEventKind, StatisticsResult } from '../protocol/index';

/** The counters of StatisticsResult, plus the raw latencies its percentiles come from. */
interface Stored extends Omit<StatisticsResult, 'latencyMs'> {
  /** Most recent latencies (ms), bounded. */
  latencies: number[];
}

const MAX_LATENCIES = 1000;

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export class Statistics {
  private s: Stored = { shown: 0, accepted: 0, partiallyAccepted: 0, dismissed: 0, requests: 0, cacheHits: 0, typedThroughHits: 0, latencies: [] };
  private saveTimer: NodeJS.Timeout | undefined;

  /** `file`: where to persist (undefined: memory only). A corrupt file is ignored, not fatal. */
  constructor(private readonly file?: string) {
    if (!file) return;
    try {
      const raw = JSON.parse(readFileSync(file, 'utf8')) as Partial<Stored>;
      for (const k of Object.keys(this.s) as (keyof Stored)[]) {
        if (k === 'latencies') {
          if (Array.isArray(raw.latencies)) this.s.latencies = raw.latencies.filter((x) => typeof x === 'number').slice(-MAX_LATENCIES);
        } else if (typeof raw[k] === 'number') this.s[k] = raw[k] as number;
      }
    } catch {
      // No file yet, or unreadable: start from zero.
    }
  }

  event(kind: CompletionEventKind): void {
    this.s[kind]++;
    this.scheduleSave();
  }

  request(kind: 'generated' | 'cache' | 'typedThrough', latencyMs: number): void {
    this.s.requests++;
    if (kind === 'cache') this.s.cacheHits++;
    if (kind === 'typedThrough') this.s.typedThroughHits++;
    this.s.latencies.push(Math.round(latencyMs * 10) / 10);
    if (this.s.latencies.length > MAX_LATENCIES) this.s.latencies.splice(0, this.s.latencies.length - MAX_LATENCIES);
    this.scheduleSave();
  }

  snapshot(): StatisticsResult {
    const sorted = [...this.s.latencies].sort((a, b) => a - b);
    const { latencies: _, ...counts } = this.s;
    return {
      ...counts,
      latencyMs: {
        p50: percentile(sorted, 50),
        p90: percentile(sorted, 90),
        p95: percentile(sorted, 95),
        p99: percentile(sorted, 99),
        count: sorted.length,
      },
    };
  }

  private scheduleSave(): void {
    if (!this.file || this.saveTimer) return;
    this.saveTimer = setTimeout(() => this.flush(), 2000);
    this.saveTimer.unref();
  }

  /** Write now (also called on shutdown). Errors are swallowed: statistics never break completions. */
  flush(): void {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    if (!this.file) return;
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      const tmp = `${this.file}.tmp`;
      writeFileSync(tmp, JSON.stringify(this.s));
      renameSync(tmp, this.file);
    } catch {
      // Read-only or full disk: keep the in-memory numbers.
    }
  }
}
