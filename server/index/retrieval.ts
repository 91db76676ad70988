/**
 * What the rest of the server asks of the workspace index: related code for a completion's prompt
 * (fast or nothing: a completion never waits long for it) and for a chat question. Holds the index
 * the workspace-index feature currently runs, if any; without one, every answer is empty.
 */
import type { IndexHit, WorkspaceIndex } from './workspace-index';

export interface RelatedChunk {
  /** Stable identity: 'index:' + path + '#' + first line. */
  id: string;
  uri: string;
  path: string;
  startLine: number;
  endLine: number;
  text: string;
}

/** A completion waits at most this long for related code. */
export const RELATED_TIMEOUT_MS = 150;

const asRelated = (h: IndexHit): RelatedChunk => ({ id: `index:${h.path}#${h.startLine}`, uri: h.uri, path: h.path, startLine: h.startLine, endLine: h.endLine, text: h.text });

export class WorkspaceRetrieval {
  index: WorkspaceIndex | undefined;

  /** Whether searches can be answered now (an open index, complete or still being built). */
  get available(): boolean {
    const s = this.index?.current.state;
    return s === 'ready' || s === 'indexing' || s === 'scanning' || s === 'paused';
  }

  /** The `k` chunks of other files most related to the code before the cursor; [] when slow or unavailable. */
  async related(uri: string, query: string, k = 2, timeoutMs = RELATED_TIMEOUT_MS): Promise<RelatedChunk[]> {
    const index = this.index;
    if (!index || !this.available || !query.trim()) return [];
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<IndexHit[]>((r) => (timer = setTimeout(() => r([]), timeoutMs)));
    try {
      const hits = await Promise.race([index.search(query, { k, excludePath: index.pathOf(uri) }).catch(() => []), late]);
      return hits.map(asRelated);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The `k` chunks most related to a chat question. */
  async forQuestion(question: string, k = 4): Promise<RelatedChunk[]> {
    const index = this.index;
    if (!index || !this.available) return [];
    return (await index.search(question, { k })).map(asRelated);
  }
}
