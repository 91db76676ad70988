/**
 * The statistics page's Markdown (no vscode import, so node:test covers it). Every table has a real
 * header row: a Markdown table without one is not a table, and an empty one renders as a blank bar.
 */
import type { StatisticsResult } from '../../protocol/index';

/** Full acceptances per shown suggestion (one suggestion can be partially accepted several times). */
export function acceptanceRate(s: Pick<StatisticsResult, 'shown' | 'accepted'>): string {
  return s.shown > 0 ? `${((100 * s.accepted) / s.shown).toFixed(1)} %` : 'n/a';
}

export function statisticsMarkdown(s: StatisticsResult): string {
  const l = s.latencyMs;
  const ms = (v: number) => (l.count > 0 ? `${Math.round(v)} ms` : '–');
  return [
    '# NeoX Complete: completion statistics',
    '',
    'Counted on this machine only.',
    '',
    '| Completions | Count |',
    '|---|---:|',
    `| Requests | ${s.requests} |`,
    `| Shown | ${s.shown} |`,
    `| Accepted | ${s.accepted} |`,
    `| Partially accepted | ${s.partiallyAccepted} |`,
    `| Dismissed | ${s.dismissed} |`,
    `| Acceptance rate | ${acceptanceRate(s)} |`,
    `| Cache hits | ${s.cacheHits} |`,
    `| Typed-through hits | ${s.typedThroughHits} |`,
    '',
    `| Latency (${l.count} completions) | p50 | p90 | p95 | p99 |`,
    '|---|---:|---:|---:|---:|',
    `| Request to suggestion | ${ms(l.p50)} | ${ms(l.p90)} | ${ms(l.p95)} | ${ms(l.p99)} |`,
    '',
  ].join('\n');
}
