/**
 * The platform-specific .vsix files (scripts/package.mjs): each carries the extension bundle, the
 * default model, the prompt templates and ONLY its own platform's onnxruntime-node binaries and
 * LanceDB binding, and nothing else heavy. Packages two targets with different binary layouts (about
 * 35 s; the first run fetches the other platform's LanceDB binding with npm pack).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { build, LANCEDB_BINDINGS, packageTarget, TARGETS } from '../../scripts/package.mjs';

interface ZipEntry {
  fileName: string;
  uncompressedSize: number;
}
interface ZipFile {
  on(ev: 'entry', f: (e: ZipEntry) => void): void;
  on(ev: 'end', f: () => void): void;
  on(ev: 'error', f: (e: Error) => void): void;
  readEntry(): void;
  openReadStream(e: ZipEntry, cb: (err: Error | null, s: NodeJS.ReadableStream) => void): void;
  close(): void;
}
// yauzl comes with @vscode/vsce (a dev dependency): the same zip reader vsce itself uses.
const yauzl = createRequire(import.meta.url)('yauzl') as {
  open(path: string, opts: { lazyEntries: boolean; autoClose: boolean }, cb: (err: Error | null, zip: ZipFile) => void): void;
};

async function readVsix(path: string): Promise<{ files: Map<string, number>; text(name: string): Promise<string>; close(): void }> {
  const zip = await new Promise<ZipFile>((res, rej) => yauzl.open(path, { lazyEntries: true, autoClose: false }, (e, z) => (e ? rej(e) : res(z))));
  const entries = new Map<string, ZipEntry>();
  await new Promise<void>((res, rej) => {
    zip.on('entry', (e) => {
      entries.set(e.fileName, e);
      zip.readEntry();
    });
    zip.on('end', res);
    zip.on('error', rej);
    zip.readEntry();
  });
  return {
    files: new Map([...entries].map(([k, v]) => [k, v.uncompressedSize])),
    close: () => zip.close(),
    text: (name) =>
      new Promise((res, rej) => {
        const e = entries.get(name);
        if (!e) return rej(new Error(`${name} not in ${path}`));
        zip.openReadStream(e, (err, s) => {
          if (err) return rej(err);
          const chunks: Buffer[] = [];
          s.on('data', (c: Buffer) => chunks.push(c));
          s.on('end', () => res(Buffer.concat(chunks).toString('utf8')));
          s.on('error', rej);
        });
      }),
  };
}

const REQUIRED = [
  'extension/package.json',
  'extension/dist/extension.cjs',
  'extension/dist/server.mjs',
  'extension/dist/engine-worker.mjs',
  'extension/dist/quant-worker.mjs',
  'extension/dist/syntax-worker.mjs',
  'extension/dist/index-definitions-worker.mjs',
  'extension/dist/webview/chat.js',
  'extension/dist/webview/chat.css',
  'extension/dist/tree-sitter.wasm',
  'extension/dist/grammars/tree-sitter-python.wasm',
  'extension/models/neox-code-23m/config.json',
  'extension/models/neox-code-23m/tokenizer.json',
  'extension/models/neox-code-23m/model.safetensors.index.json',
  'extension/models/neox-code-23m/model-00001-of-00003.safetensors',
  'extension/models/neox-code-23m/model-00002-of-00003.safetensors',
  'extension/models/neox-code-23m/model-00003-of-00003.safetensors',
  'extension/snippets/generate-file/python.txt',
  'extension/node_modules/onnxruntime-node/package.json',
  'extension/node_modules/onnxruntime-node/dist/index.js',
  'extension/node_modules/onnxruntime-common/package.json',
  'extension/node_modules/onnxruntime-common/dist/cjs/index.js',
];
/** Files over 1 MB that may be in the package; anything else that large is a packaging leak. */
const HEAVY_ALLOWED = [
  /^extension\/models\/neox-code-23m\/(model-\d+-of-\d+\.safetensors|tokenizer\.json)$/,
  /^extension\/node_modules\/onnxruntime-node\/bin\/napi-v6\/[^/]+\/[^/]+\/[^/]+$/,
  /^extension\/node_modules\/@lancedb\/lancedb-[\w-]+\/lancedb\.[\w-]+\.node$/,
  /^extension\/dist\/grammars\/tree-sitter-\w+\.wasm$/,
  /^extension\/dist\/(extension\.cjs|server\.mjs)$/,
];

describe('platform-specific .vsix packages', () => {
  const out = mkdtempSync(join(tmpdir(), 'neox-vsix-'));
  const targets = ['linux-x64', 'win32-arm64'];
  const vsix = new Map<string, string>();

  before(() => {
    build();
    for (const t of targets) vsix.set(t, packageTarget(t, { outDir: join(out, 'vsix'), stageRoot: join(out, 'stage') }));
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  it('the bundled tree-sitter workers parse (ESM bundles get require and __dirname, which web-tree-sitter reads)', async () => {
    const ask = (bundle: string, job: object) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const w = new Worker(new URL(`../../dist/${bundle}`, import.meta.url));
        w.once('message', (m: Record<string, unknown>) => void w.terminate().then(() => resolve(m)));
        w.once('error', reject);
        w.postMessage(job);
      });
    const wasm = { runtimeWasm: fileURLToPath(new URL('../../dist/tree-sitter.wasm', import.meta.url)), grammarWasm: fileURLToPath(new URL('../../dist/grammars/tree-sitter-python.wasm', import.meta.url)) };
    assert.deepEqual(await ask('syntax-worker.mjs', { id: 1, ...wasm, src: 'def f():\n    # note\n', cursor: 19 }), { id: 1, result: { inComment: true, inString: false, inError: false } });
    assert.deepEqual(await ask('index-definitions-worker.mjs', { id: 2, ...wasm, src: 'def f():\n    return 1\n' }), { id: 2, defs: [{ startLine: 0, endLine: 1, name: 'f', depth: 0 }] });
  });

  for (const target of targets) {
    it(`${target}: dist, the default model, templates and only ${TARGETS[target]} binaries`, async () => {
      const v = await readVsix(vsix.get(target)!);
      for (const f of REQUIRED) assert.ok(v.files.has(f), `${f} is in the ${target} package`);
      const [os, arch] = TARGETS[target].split('/');
      const bins = [...v.files.keys()].filter((f) => f.includes('/bin/napi-v6/'));
      assert.ok(bins.some((f) => f.endsWith(`/napi-v6/${os}/${arch}/onnxruntime_binding.node`)), 'its own binding is there');
      assert.deepEqual(bins.filter((f) => !f.includes(`/napi-v6/${os}/${arch}/`)), [], 'no other platform binaries');
      // LanceDB (the workspace index): the binding its loader requires on this platform, and no other.
      const lance = LANCEDB_BINDINGS[target];
      const lanceFiles = [...v.files.keys()].filter((f) => f.startsWith('extension/node_modules/@lancedb/')).sort();
      assert.deepEqual(lanceFiles, [`extension/node_modules/@lancedb/lancedb-${lance}/lancedb.${lance}.node`, `extension/node_modules/@lancedb/lancedb-${lance}/package.json`]);
      assert.ok(v.files.get(lanceFiles[0]!)! > 10 * 1024 * 1024, 'the binding is a real binary');

      const manifest = await v.text('extension.vsixmanifest');
      assert.match(manifest, new RegExp(`TargetPlatform="${target}"`));
      const pkg = JSON.parse(await v.text('extension/package.json'));
      assert.equal(pkg.main, './dist/extension.cjs');
      assert.equal(pkg.engines.vscode, '^1.100.0');
      assert.equal(pkg.scripts, undefined, 'no build scripts in the shipped manifest');

      const stray = [...v.files.keys()].filter(
        (f) => f.endsWith('.map') || /\.ts$/.test(f) || /^extension\/(test|client|server|engine|scripts|bench)\//.test(f.replace('extension/client/media/', 'media/')),
      );
      assert.deepEqual(stray, [], 'no sources, maps or tests');
      const modules = new Set([...v.files.keys()].filter((f) => f.startsWith('extension/node_modules/')).map((f) => f.split('/')[2]));
      assert.deepEqual([...modules].sort(), ['@lancedb', 'onnxruntime-common', 'onnxruntime-node']);

      const heavy = [...v.files].filter(([f, size]) => size > 1024 * 1024 && !HEAVY_ALLOWED.some((re) => re.test(f)));
      assert.deepEqual(heavy, [], 'nothing else heavy');
      const total = [...v.files.values()].reduce((a, b) => a + b, 0);
      const compressed = statSync(vsix.get(target)!).size;
      // Model (46 MB) + one platform's onnxruntime (25-86 MB) + LanceDB's binding (100-160 MB, 45-60 MB
      // compressed) + bundles and grammars (about 25 MB).
      assert.ok(total < 360 * 1024 * 1024, `unpacked ${(total / 2 ** 20).toFixed(1)} MB`);
      assert.ok(compressed < 170 * 1024 * 1024, `vsix ${(compressed / 2 ** 20).toFixed(1)} MB`);
      v.close();
    });
  }
});
