/**
 * The installed package's root folder (the one holding package.json "neox-complete"), found by
 * walking up from this module: it works from sources (engine/cli/), from tsx and from the
 * esbuild bundles in dist/, which all sit at different depths.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'neox-complete') return (cached = dir);
      } catch {
        // not ours (or unreadable): keep walking up
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`neox: cannot find the neox-complete package root above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** The embedded default model, models/neox-code-23m. */
export function defaultModelDir(): string {
  return join(packageRoot(), 'models', 'neox-code-23m');
}
