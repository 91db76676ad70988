/** "NeoX: Show completion statistics": the server's counters and latency percentiles as a Markdown table. */
import * as vscode from 'vscode';
import { GetStatisticsRequest, type StatisticsResult } from '../../server/protocol';
import type { NeoxClient } from '../neox-client';

export function statisticsMarkdown(s: StatisticsResult): string {
  // Full acceptances per shown suggestion (one suggestion can be partially accepted several times).
  const rate = s.shown > 0 ? `${((100 * s.accepted) / s.shown).toFixed(1)} %` : 'n/a';
  const l = s.latencyMs;
  return [
    '# NeoX Complete: completion statistics',
    '',
    '| | |',
    '|---|---:|',
    `| Requests | ${s.requests} |`,
    `| Shown | ${s.shown} |`,
    `| Accepted | ${s.accepted} |`,
    `| Partially accepted | ${s.partiallyAccepted} |`,
    `| Dismissed | ${s.dismissed} |`,
    `| Acceptance rate | ${rate} |`,
    `| Cache hits | ${s.cacheHits} |`,
    `| Typed-through hits | ${s.typedThroughHits} |`,
    '',
    `Latency over ${l.count} completions: p50 ${Math.round(l.p50)} ms, p90 ${Math.round(l.p90)} ms, p95 ${Math.round(l.p95)} ms, p99 ${Math.round(l.p99)} ms.`,
    '',
  ].join('\n');
}

/**
 * A read-only virtual document (not an untitled one: closing it asks nothing), refreshed on each show.
 */
export class StatisticsDocument implements vscode.TextDocumentContentProvider {
  static readonly scheme = 'neox-stats';
  static readonly uri = vscode.Uri.from({ scheme: StatisticsDocument.scheme, path: '/NeoX completion statistics.md' });
  private content = '';
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  provideTextDocumentContent(): string {
    return this.content;
  }

  update(markdown: string): void {
    this.content = markdown;
    this.changed.fire(StatisticsDocument.uri);
  }
}

export async function showStatistics(neox: NeoxClient, view: StatisticsDocument): Promise<StatisticsResult | undefined> {
  try {
    const stats = await (await neox.ready()).sendRequest(GetStatisticsRequest);
    view.update(statisticsMarkdown(stats));
    const doc = await vscode.workspace.openTextDocument(StatisticsDocument.uri);
    await vscode.languages.setTextDocumentLanguage(doc, 'markdown');
    await vscode.window.showTextDocument(doc, { preview: true });
    return stats;
  } catch (e) {
    neox.showError(`statistics unavailable: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}
