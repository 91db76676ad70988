// Bundles the extension (client), the language server, the engine worker and the `neox` CLI into dist/.
// onnxruntime-node stays external: it is a native N-API module that ships its own binaries.
import * as esbuild from 'esbuild';
import { existsSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  external: ['vscode', 'onnxruntime-node'],
};
// ESM bundles still meet CommonJS dependencies that call require(): give them one.
const esmBanner = {
  js: "import { createRequire as __neoxCreateRequire } from 'node:module'; const require = __neoxCreateRequire(import.meta.url);",
};

const builds = [
  // VS Code loads extensions as CommonJS.
  { entryPoints: ['client/extension.ts'], outfile: 'dist/extension.cjs', format: 'cjs' },
  { entryPoints: ['server/server.ts'], outfile: 'dist/server.mjs', format: 'esm', banner: esmBanner },
  { entryPoints: ['engine/local/worker.ts'], outfile: 'dist/engine-worker.mjs', format: 'esm', banner: esmBanner },
  { entryPoints: ['engine/cli/neox.ts'], outfile: 'dist/neox.mjs', format: 'esm', banner: esmBanner },
];

for (const b of builds) {
  const entry = b.entryPoints[0];
  if (!existsSync(entry)) {
    console.warn(`esbuild: skipping ${entry} (not written yet)`);
    continue;
  }
  const options = { ...common, ...b };
  if (watch) await (await esbuild.context(options)).watch();
  else await esbuild.build(options);
}
