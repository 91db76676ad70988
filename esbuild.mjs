// Bundles the extension (client), the language server, the engine worker, the `neox` CLI and the chat
// webview script into dist/, and copies the runtime assets they load from disk (tree-sitter wasm files,
// webview CSS). onnxruntime-node and LanceDB's native binding stay external: native N-API modules with
// binaries per platform (scripts/package.mjs puts only the target platform's into each .vsix).
import * as esbuild from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const watch = process.argv.includes('--watch');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  // LanceDB's JavaScript and Apache Arrow are bundled; its native binding stays outside: the platform
  // package (@lancedb/lancedb-<platform>) its loader requires, shipped per target like onnxruntime.
  // LanceDB's optional embedding providers (openai, transformers) are never loaded here.
  external: ['vscode', 'onnxruntime-node', '@lancedb/lancedb-*', '*.node', 'openai', '@huggingface/transformers'],
};
// ESM bundles still meet CommonJS dependencies that call require() and read __dirname (web-tree-sitter's
// emscripten loader does, in the parse workers: without it every parse failed): give them both.
const esmBanner = {
  js: [
    "import { createRequire as __neoxCreateRequire } from 'node:module';",
    "import { fileURLToPath as __neoxFileURLToPath } from 'node:url';",
    'const require = __neoxCreateRequire(import.meta.url);',
    'const __filename = __neoxFileURLToPath(import.meta.url);',
    "const __dirname = __filename.slice(0, Math.max(__filename.lastIndexOf('/'), __filename.lastIndexOf('\\\\')));",
  ].join(' '),
};

const builds = [
  // VS Code loads extensions as CommonJS.
  { entryPoints: ['client/extension.ts'], outfile: 'dist/extension.cjs', format: 'cjs' },
  { entryPoints: ['server/server.ts'], outfile: 'dist/server.mjs', format: 'esm', banner: esmBanner },
  { entryPoints: ['engine/cli/neox.ts'], outfile: 'dist/neox.mjs', format: 'esm', banner: esmBanner },
  // Worker threads (the engine, int4 quantization on every core, tree-sitter parsing): the table is
  // shared with engine/assets.ts, which finds each bundle next to the one that starts it.
  ...Object.values(JSON.parse(readFileSync('engine/worker-scripts.json', 'utf8'))).map(({ source, bundle }) => ({
    entryPoints: [source],
    outfile: `dist/${bundle}`,
    format: 'esm',
    banner: esmBanner,
  })),
  // The chat webview runs in the browser sandbox of the webview: no Node, no vscode module.
  {
    entryPoints: ['client/chat/webview/main.ts'],
    outfile: 'dist/webview/chat.js',
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    external: [],
    minify: true,
  },
];

// Grammars for the languages server/language.ts knows; web-tree-sitter finds tree-sitter.wasm next to
// the bundle that loads it (dist/), the grammars are read from dist/grammars/.
const GRAMMARS = ['python', 'typescript', 'tsx', 'javascript', 'java', 'c', 'cpp', 'go', 'rust', 'c_sharp', 'ruby', 'bash', 'yaml', 'lua'];

function copyAssets() {
  const copies = [
    [require.resolve('web-tree-sitter/tree-sitter.wasm'), 'dist/tree-sitter.wasm'],
    ['client/chat/webview/chat.css', 'dist/webview/chat.css'],
  ];
  const wasmDir = join(dirname(require.resolve('tree-sitter-wasms/package.json')), 'out');
  for (const g of GRAMMARS) copies.push([join(wasmDir, `tree-sitter-${g}.wasm`), `dist/grammars/tree-sitter-${g}.wasm`]);
  for (const [from, to] of copies) {
    if (!existsSync(from)) throw new Error(`esbuild: asset ${from} is missing`);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(from, to);
  }
}

for (const b of builds) {
  const entry = b.entryPoints[0];
  if (!existsSync(entry)) throw new Error(`esbuild: entry point ${entry} is missing`);
  const options = { ...common, ...b };
  if (watch) await (await esbuild.context(options)).watch();
  else await esbuild.build(options);
}
copyAssets();
