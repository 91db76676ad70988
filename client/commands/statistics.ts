/**
 * "NeoX: Show completion statistics": the server's counters and latency percentiles as Markdown tables,
 * shown rendered in the built-in Markdown preview (tables and all; the raw text is not for reading).
 */
import * as vscode from 'vscode';
import { GetStatisticsRequest, type StatisticsResult } from '../../protocol/index';
import type { NeoxClient } from '../neox-client';
import { statisticsMarkdown } from './statistics-markdown';

export { statisticsMarkdown };

/**
 * A read-only virtual document (not an untitled one: closing it asks nothing), refreshed on each show;
 * an open preview of it follows the change.
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
    await showRendered(neox, StatisticsDocument.uri);
    return stats;
  } catch (e) {
    neox.showError(`statistics unavailable: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}

/** The Markdown preview of `uri`; its text in an editor only when the preview is unavailable (markdown extension disabled). */
async function showRendered(neox: NeoxClient, uri: vscode.Uri): Promise<void> {
  const doc = await vscode.workspace.openTextDocument(uri);
  if (doc.languageId !== 'markdown') await vscode.languages.setTextDocumentLanguage(doc, 'markdown');
  try {
    await vscode.commands.executeCommand('markdown.showPreview', uri);
  } catch (e) {
    neox.output.warn(`Markdown preview unavailable (${e instanceof Error ? e.message : String(e)}): showing the statistics as text`);
    await vscode.window.showTextDocument(doc, { preview: true });
  }
}
