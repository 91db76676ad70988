/**
 * The workspace folders, as the editor has them now: initialize's workspaceFolders (else rootUri),
 * then workspace/didChangeWorkspaceFolders as folders are added and removed. One list that the
 * prompt header's paths, the workspace's prompt files and the workspace index all read.
 */
import { fileURLToPath } from 'node:url';

export class WorkspaceFolders {
  private list: string[];
  private readonly listeners: (() => void)[] = [];

  /** `uris`: folder URIs, first folder first (duplicates dropped). */
  constructor(uris: string[]) {
    this.list = [...new Set(uris)];
  }

  /** Folder URIs, first folder first. */
  get uris(): readonly string[] {
    return this.list;
  }

  /** The folders on this machine's disk (file: URIs only), as paths. */
  get dirs(): string[] {
    return this.list.filter((u) => u.startsWith('file:')).map((u) => fileURLToPath(u));
  }

  /** Folders added and removed (workspace/didChangeWorkspaceFolders): listeners hear of it when the list changed. */
  change(added: readonly string[], removed: readonly string[]): void {
    const next = [...new Set([...this.list.filter((u) => !removed.includes(u)), ...added])];
    if (next.length === this.list.length && next.every((u, i) => u === this.list[i])) return;
    this.list = next;
    for (const l of this.listeners) l();
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }
}
