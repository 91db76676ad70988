/** How the model picker names a model the server lists (no vscode import, so node:test covers it). */
import type { ListedModel } from '../../protocol/index';
import { lastSegment } from '../status-text';

/**
 * A listed model as a picker row: its name as the label (never a path: a long path pushes everything
 * else out of the row), backend and "current" beside it, the folder or URL as the detail line.
 */
export function modelPickRow(m: ListedModel): { label: string; description: string; detail?: string } {
  // An older server sends no name: a local id is a folder, a remote id is already a name.
  const name = m.name || (m.backend === 'local' ? lastSegment(m.id) : m.id) || 'default model';
  const description = [m.backend, m.embedded ? 'built in' : undefined, m.current ? 'current' : undefined].filter(Boolean).join(' · ');
  const detail = m.embedded ? 'The embedded demonstration model' : m.location || m.description;
  return { label: `${m.current ? '$(check) ' : ''}${name}`, description, detail };
}
