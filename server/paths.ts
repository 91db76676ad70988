import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The document's path relative to the workspace folder holding it (for the prompt header), else its file name. */
export function relativePath(uri: string, roots: readonly string[]): string {
  for (const root of roots) {
    const r = root.endsWith('/') ? root : root + '/';
    if (uri.startsWith(r)) return decodeURIComponent(uri.slice(r.length));
  }
  try {
    return basename(uri.startsWith('file:') ? fileURLToPath(uri) : uri);
  } catch {
    return basename(uri);
  }
}
