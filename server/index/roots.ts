/**
 * The workspace folders the index covers, and the one path naming each file in it: relative to its
 * folder ('/'-separated), prefixed with the folder's name when the workspace has several folders
 * (a second folder of the same name gets `~2`).
 */
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface Root {
  /** Folder on disk. */
  dir: string;
  /** '' for a single-folder workspace, else 'name/'. */
  prefix: string;
}

export class Roots {
  readonly list: Root[];

  constructor(folderUris: readonly string[]) {
    const dirs = [...new Set(folderUris.filter((u) => u.startsWith('file:')).map((u) => fileURLToPath(u).replace(/[\\/]+$/, '')))];
    const seen = new Map<string, number>();
    this.list = dirs.map((dir) => {
      if (dirs.length === 1) return { dir, prefix: '' };
      const name = basename(dir) || 'root';
      const n = (seen.get(name) ?? 0) + 1;
      seen.set(name, n);
      return { dir, prefix: `${n > 1 ? `${name}~${n}` : name}/` };
    });
  }

  /** The index path of a file URI, with its root; undefined outside every folder. */
  locate(uri: string): { root: Root; rel: string; path: string } | undefined {
    if (!uri.startsWith('file:')) return undefined;
    const file = fileURLToPath(uri);
    // The deepest folder holding it (nested workspace folders).
    let best: Root | undefined;
    for (const r of this.list) {
      if ((file === r.dir || file.startsWith(r.dir + '/') || file.startsWith(r.dir + '\\')) && (!best || r.dir.length > best.dir.length)) best = r;
    }
    if (!best) return undefined;
    const rel = file.slice(best.dir.length + 1).replace(/\\/g, '/');
    return { root: best, rel, path: best.prefix + rel };
  }

  /** The root and folder-relative path of an index path. */
  resolve(path: string): { root: Root; rel: string } | undefined {
    const root = this.list.find((r) => path.startsWith(r.prefix));
    return root && { root, rel: path.slice(root.prefix.length) };
  }

  uriOf(path: string): string | undefined {
    const r = this.resolve(path);
    return r && pathToFileURL(join(r.root.dir, r.rel)).href;
  }
}
