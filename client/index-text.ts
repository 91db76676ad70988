/**
 * What the editor says about the workspace index (StatusParams.index) and its search results, as pure
 * functions of the server's data (no vscode import, so node:test covers them).
 */
import type { IndexStatus, SearchResultItem } from '../protocol/index';

/** The status bar item's addition while the index is busy or paused; '' when there is nothing to say. */
export function indexBadge(i: IndexStatus | undefined): string {
  if (!i) return '';
  if (i.state === 'indexing' && i.filesTotal > 0) return ` · $(database) ${Math.floor((100 * i.filesDone) / i.filesTotal)}%`;
  if (i.state === 'starting' || i.state === 'scanning') return ' · $(database) …';
  if (i.state === 'paused') return ' · $(debug-pause) index';
  return '';
}

/** One line for the tooltip: the index's state, its size and, when off or failed, why. */
export function indexLine(i: IndexStatus | undefined): string | undefined {
  if (!i) return undefined;
  const size = `${i.files} files, ${i.chunks} chunks`;
  switch (i.state) {
    case 'ready':
      return `Workspace index: ready (${size})`;
    case 'indexing':
      return `Workspace index: indexing, ${i.filesDone} of ${i.filesTotal} files (${size})`;
    case 'paused':
      return `Workspace index: paused (${size})`;
    case 'starting':
    case 'scanning':
      return `Workspace index: ${i.message ?? i.state}`;
    case 'off':
    case 'error':
      return `Workspace index: ${i.state}${i.message ? ` - ${i.message}` : ''}`;
  }
}

/** A search result as a quick pick row: the definition's name (else the file), where it is, its first lines. */
export function resultRow(r: SearchResultItem): { label: string; description: string; detail: string } {
  const file = r.path.split('/').pop() ?? r.path;
  return {
    label: `$(symbol-method) ${r.name || file}`,
    description: `${r.path}:${r.startLine + 1}-${r.endLine + 1}`,
    detail: r.preview.replace(/\s+/g, ' ').slice(0, 160),
  };
}
