#!/usr/bin/env node
// `npm run package`: one platform-specific .vsix per onnxruntime-node target, each containing dist/,
// the default model and ONLY that platform's onnxruntime-node binaries (the npm package ships all five,
// about 290 MB) and LanceDB native binding (the workspace index; npm installs only this machine's, so
// the others are fetched once with `npm pack` into .cache/package/lancedb/). Each target is staged in .cache/package/<target>/ with exactly the files it needs and
// packaged there by @vscode/vsce 3 (`vsce package --target`), so nothing else heavy can slip in.
//
//   node scripts/package.mjs                      all targets -> vsix/neox-complete-<target>-<version>.vsix
//   node scripts/package.mjs --target linux-x64   one target (repeatable)
//   node scripts/package.mjs --no-build           reuse dist/ as it is
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));

/** vsce target -> onnxruntime-node's bin/napi-v6/<os>/<arch> folder. */
export const TARGETS = {
  'linux-x64': 'linux/x64',
  'linux-arm64': 'linux/arm64',
  'darwin-arm64': 'darwin/arm64',
  'win32-x64': 'win32/x64',
  'win32-arm64': 'win32/arm64',
};
/** vsce target -> LanceDB's native binding package, @lancedb/lancedb-<name> (its loader requires it by that name). */
export const LANCEDB_BINDINGS = {
  'linux-x64': 'linux-x64-gnu',
  'linux-arm64': 'linux-arm64-gnu',
  'darwin-arm64': 'darwin-arm64',
  'win32-x64': 'win32-x64-msvc',
  'win32-arm64': 'win32-arm64-msvc',
};
export const vsixDir = join(root, 'vsix');

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
export function vsixPath(target, outDir = vsixDir) {
  return join(outDir, `${pkg.name}-${target}-${pkg.version}.vsix`);
}

function log(msg) {
  console.error(`[package] ${msg}`);
}

function copy(from, to, filter) {
  cpSync(from, to, { recursive: true, filter: filter ?? (() => true) });
}

/** The extension manifest as shipped: no scripts (vsce would run vscode:prepublish), no dev tooling. */
function stagedManifest(lancedb) {
  const m = structuredClone(pkg);
  delete m.scripts;
  delete m.devDependencies;
  delete m.bin;
  // Everything else is bundled into dist/ by esbuild; only the native modules stay real dependencies.
  m.dependencies = { 'onnxruntime-node': pkg.dependencies['onnxruntime-node'], [lancedb.name]: lancedb.version };
  return m;
}

/**
 * The folder of LanceDB's native binding package for `target`, at the version of the installed
 * @lancedb/lancedb: from node_modules when npm installed it (this machine's platform), else fetched
 * once with `npm pack` from the registry npm is set up for, into .cache/package/lancedb/.
 */
function lancedbBinding(target) {
  const name = `@lancedb/lancedb-${LANCEDB_BINDINGS[target]}`;
  // Its "exports" hide its package.json: the package folder is above its main entry (dist/index.js).
  const lancedbDir = dirname(dirname(require.resolve('@lancedb/lancedb')));
  const version = JSON.parse(readFileSync(join(lancedbDir, 'package.json'), 'utf8')).version;
  try {
    const dir = dirname(require.resolve(`${name}/package.json`));
    if (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version === version) return { name, version, dir };
  } catch {
    // not installed here: another platform's
  }
  const cache = join(root, '.cache', 'package', 'lancedb', `${LANCEDB_BINDINGS[target]}-${version}`);
  const dir = join(cache, 'package');
  if (!existsSync(join(dir, 'package.json'))) {
    log(`fetching ${name}@${version} (npm pack)`);
    rmSync(cache, { recursive: true, force: true });
    mkdirSync(cache, { recursive: true });
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const r = spawnSync(npm, ['pack', `${name}@${version}`, '--pack-destination', cache, '--silent'], { encoding: 'utf8', shell: process.platform === 'win32' });
    const tgz = r.status === 0 ? readdirSync(cache).find((f) => f.endsWith('.tgz')) : undefined;
    if (!tgz) throw new Error(`npm pack ${name}@${version} failed (LanceDB's binding for ${target} is fetched from the npm registry once):\n${r.stderr || r.stdout}`);
    execFileSync('tar', ['-xzf', join(cache, tgz), '-C', cache]);
    rmSync(join(cache, tgz));
  }
  return { name, version, dir };
}

function stage(target, stageRoot) {
  const ortFolder = TARGETS[target];
  if (!ortFolder) throw new Error(`unknown target ${target}; one of ${Object.keys(TARGETS).join(', ')}`);
  const dir = join(stageRoot, target);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const lancedb = lancedbBinding(target);

  writeFileSync(join(dir, 'package.json'), JSON.stringify(stagedManifest(lancedb), null, 2) + '\n');
  for (const f of ['README.md', 'LICENSE', 'CHANGELOG.md']) if (existsSync(join(root, f))) copy(join(root, f), join(dir, f));
  copy(join(root, '.vscodeignore'), join(dir, '.vscodeignore'));
  copy(join(root, 'client', 'media'), join(dir, 'client', 'media'));
  // Source maps stay out: they double the size and the extension host does not need them.
  // The `neox` CLI bundle is not part of the extension.
  copy(join(root, 'dist'), join(dir, 'dist'), (src) => !src.endsWith('.map') && !src.endsWith(`${sep}neox.mjs`));
  copy(join(root, 'models', 'neox-code-23m'), join(dir, 'models', 'neox-code-23m'));
  // Prompt templates, few-shot examples and the default chat template (data only), read from ../snippets next to dist/.
  // (data only: the template loader's .ts source is bundled into dist/).
  copy(join(root, 'snippets'), join(dir, 'snippets'), (src) => !src.endsWith('.ts'));

  // onnxruntime-node: its JS, and the binaries of this one platform. Its installer-only dependencies
  // (adm-zip, global-agent: used by its postinstall to fetch CUDA providers) and scripts are dropped.
  const ortSrc = dirname(require.resolve('onnxruntime-node/package.json'));
  const ortDst = join(dir, 'node_modules', 'onnxruntime-node');
  const ortPkg = JSON.parse(readFileSync(join(ortSrc, 'package.json'), 'utf8'));
  delete ortPkg.scripts;
  ortPkg.dependencies = { 'onnxruntime-common': ortPkg.dependencies['onnxruntime-common'] };
  delete ortPkg.devDependencies;
  mkdirSync(ortDst, { recursive: true });
  writeFileSync(join(ortDst, 'package.json'), JSON.stringify(ortPkg, null, 2) + '\n');
  copy(join(ortSrc, 'dist'), join(ortDst, 'dist'), (src) => !src.endsWith('.map') && !src.endsWith('.ts'));
  for (const f of ['LICENSE', 'README.md', 'ThirdPartyNotices.txt']) if (existsSync(join(ortSrc, f))) copy(join(ortSrc, f), join(ortDst, f));
  const binSrc = join(ortSrc, 'bin', 'napi-v6', ortFolder);
  if (!existsSync(binSrc)) throw new Error(`onnxruntime-node has no binaries for ${target} at ${binSrc}`);
  copy(binSrc, join(ortDst, 'bin', 'napi-v6', ortFolder));

  // onnxruntime-common's "exports" hide its package.json: find the folder from its main entry instead.
  const commonMain = require.resolve('onnxruntime-common', { paths: [ortSrc] });
  const commonSrc = commonMain.slice(0, commonMain.lastIndexOf(`${sep}dist${sep}`));
  const commonDst = join(dir, 'node_modules', 'onnxruntime-common');
  const commonPkg = JSON.parse(readFileSync(join(commonSrc, 'package.json'), 'utf8'));
  delete commonPkg.scripts;
  delete commonPkg.devDependencies;
  mkdirSync(commonDst, { recursive: true });
  writeFileSync(join(commonDst, 'package.json'), JSON.stringify(commonPkg, null, 2) + '\n');
  copy(join(commonSrc, 'dist', 'cjs'), join(commonDst, 'dist', 'cjs'), (src) => !src.endsWith('.map') && !src.endsWith('.ts'));
  copy(join(commonSrc, 'dist', 'esm'), join(commonDst, 'dist', 'esm'), (src) => !src.endsWith('.map') && !src.endsWith('.ts'));
  if (existsSync(join(commonSrc, 'LICENSE'))) copy(join(commonSrc, 'LICENSE'), join(commonDst, 'LICENSE'));

  // LanceDB: its JavaScript is in dist/; here its native binding for this platform (package.json + .node).
  const lanceDst = join(dir, 'node_modules', ...lancedb.name.split('/'));
  const lancePkg = JSON.parse(readFileSync(join(lancedb.dir, 'package.json'), 'utf8'));
  delete lancePkg.scripts;
  delete lancePkg.devDependencies;
  mkdirSync(lanceDst, { recursive: true });
  writeFileSync(join(lanceDst, 'package.json'), JSON.stringify(lancePkg, null, 2) + '\n');
  const binaries = readdirSync(lancedb.dir).filter((f) => f.endsWith('.node'));
  if (binaries.length !== 1) throw new Error(`${lancedb.name} at ${lancedb.dir} should hold one .node binary, has ${binaries.length}`);
  copy(join(lancedb.dir, binaries[0]), join(lanceDst, binaries[0]));
  return dir;
}

function dirSize(p) {
  const s = statSync(p);
  if (!s.isDirectory()) return s.size;
  return readdirSync(p).reduce((n, f) => n + dirSize(join(p, f)), 0);
}

/** Stages and packages one target; `outDir` and `stageRoot` default to vsix/ and .cache/package/. */
export function packageTarget(target, { outDir = vsixDir, stageRoot = join(root, '.cache', 'package') } = {}) {
  const started = Date.now();
  const dir = stage(target, stageRoot);
  const out = vsixPath(target, outDir);
  mkdirSync(outDir, { recursive: true });
  rmSync(out, { force: true });
  const vsce = join(dirname(require.resolve('@vscode/vsce/package.json')), 'vsce');
  const r = spawnSync(
    process.execPath,
    [vsce, 'package', '--target', target, '--out', out, '--skip-license', '--allow-missing-repository', '--no-rewrite-relative-links', '--no-yarn'],
    { cwd: dir, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } },
  );
  if (r.status !== 0) throw new Error(`vsce package --target ${target} failed:\n${r.stdout}\n${r.stderr}`);
  const mb = (n) => (n / 1024 / 1024).toFixed(1);
  log(`${relative(root, out)}: ${mb(statSync(out).size)} MB (staged ${mb(dirSize(dir))} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return out;
}

export function build() {
  log('building dist/ (node esbuild.mjs)');
  execFileSync(process.execPath, [join(root, 'esbuild.mjs')], { cwd: root, stdio: 'inherit' });
  for (const f of ['dist/extension.cjs', 'dist/server.mjs', 'dist/webview/chat.js']) {
    if (!existsSync(join(root, f))) throw new Error(`${f} is missing after the build: the extension cannot work without it`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const targets = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--target') targets.push(args[++i]);
    else if (args[i].startsWith('--target=')) targets.push(args[i].slice('--target='.length));
  }
  try {
    if (!args.includes('--no-build')) build();
    for (const t of targets.length ? targets : Object.keys(TARGETS)) console.log(packageTarget(t));
  } catch (e) {
    console.error(`[package] ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
