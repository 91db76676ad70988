// Bundles the in-host mocha suite (test/host/index.ts + its *.suite.ts; not *.test.ts, which node:test would pick up) for the extension host:
// CommonJS (the extension host require()s extensionTestsPath), with `vscode` and `mocha` left external
// (mocha resolves from the repository's node_modules).   node test/host/build.mjs OUT_DIR
import * as esbuild from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const out = resolve(process.argv[2] ?? 'out/test/host');
mkdirSync(out, { recursive: true });
// The repository is "type": "module"; this folder's files are CommonJS.
writeFileSync(join(out, 'package.json'), '{ "type": "commonjs" }\n');
await esbuild.build({
  entryPoints: [new URL('./index.ts', import.meta.url).pathname],
  outfile: join(out, 'index.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'inline',
  external: ['vscode', 'mocha'],
  logLevel: 'warning',
});
