#!/usr/bin/env node
// `npm start`: try the product in a browser VS Code on any machine. Builds and packages the .vsix for
// this platform, installs it into a local code-server (the same 4.100.3 setup as the real-editor tests;
// the tool in .cache/code-server/, its profile in .cache/start/), opens a sample workspace that lives
// outside the repository (so VS Code finds no git repository in its parent folders) and prints the URL.
// Ctrl+C stops it.
//   NEOX_PORT=18280 npm start                (default port 18280)
//   NEOX_WORKSPACE=~/my-project npm start    (open your own folder instead of the sample workspace)
// The first start installs code-server, compiling its native modules: FIRST_START_NOTE below is what it
// measured; later starts take about 10 s.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CODE_SERVER_VERSION, codeServerBin, codeServerDir } from './install-code-server.mjs';
import { build, packageTarget } from './package.mjs';
import { ensureSystemDeps } from './system-deps.mjs';

const FIRST_START_NOTE = 'about 1 minute measured on a 2-core machine, up to about 4 with a slower network or processor; once';
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const base = join(root, '.cache', 'start');
const dirs = Object.fromEntries(['home', 'tmp', 'user-data', 'extensions'].map((d) => [d, join(base, d)]));
for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
const env = { ...process.env, HOME: dirs.home, TMPDIR: dirs.tmp };
const port = Number(process.env.NEOX_PORT ?? 18280);
// The user cache folder, as for built models (engine/local/model-cache.ts): outside any repository.
const userCache = process.env.XDG_CACHE_HOME ? join(process.env.XDG_CACHE_HOME, 'neox-complete') : join(homedir(), '.cache', 'neox-complete');
const ws = process.env.NEOX_WORKSPACE ? resolve(process.env.NEOX_WORKSPACE.replace(/^~(?=\/|$)/, homedir())) : join(userCache, 'sample-workspace');

const started = Date.now();
const secs = (ms) => `${(ms / 1000).toFixed(0)} s`;
const TOTAL = 5;
let stepNo = 0;
async function step(what, fn) {
  stepNo++;
  console.error(`[start ${stepNo}/${TOTAL}] ${what}...`);
  const t0 = Date.now();
  const r = await fn();
  console.error(`[start ${stepNo}/${TOTAL}] done in ${secs(Date.now() - t0)}`);
  return r;
}
function fail(msg) {
  console.error(`npm start: ${msg}`);
  process.exit(1);
}

const installed = existsSync(join(codeServerDir, '.installed')) && readFileSync(join(codeServerDir, '.installed'), 'utf8').trim() === CODE_SERVER_VERSION && existsSync(codeServerBin);
if (!installed) {
  console.error(`npm start: the first start installs code-server ${CODE_SERVER_VERSION} and compiles its native modules (${FIRST_START_NOTE}); later starts take about 10 s.`);
  // code-server's native modules build from source: the C toolchain, Kerberos headers and ripgrep (no browser needed).
  if (!ensureSystemDeps({ packages: ['build-essential', 'pkg-config', 'python3', 'libkrb5-dev', 'ripgrep'], purpose: 'installing code-server needs' })) process.exit(1);
}

const bin = await step(installed ? `code-server ${CODE_SERVER_VERSION}: already in .cache/code-server` : `installing code-server ${CODE_SERVER_VERSION} into .cache/code-server (the long step)`, async () => {
  if (installed) return codeServerBin;
  // In a child process, so that this one can say it is still working during the silent native builds.
  const child = spawn(process.execPath, [join(root, 'scripts', 'install-code-server.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const t0 = Date.now();
  const tick = setInterval(() => console.error(`[start 1/${TOTAL}] still installing code-server (${secs(Date.now() - t0)} so far; native modules compile without output)`), 30_000);
  const code = await new Promise((res) => child.on('close', (c) => res(c ?? 1)));
  clearInterval(tick);
  if (code !== 0) fail('installing code-server failed (see above)');
  return out.trim().split('\n').pop();
});
await step('building the extension (esbuild)', () => build());
const vsix = await step(`packaging the .vsix for ${process.platform}-${process.arch}`, () => packageTarget(`${process.platform}-${process.arch}`));
await step('installing the .vsix into code-server', () => {
  const install = spawnSync(process.execPath, [bin, '--extensions-dir', dirs.extensions, '--user-data-dir', dirs['user-data'], '--install-extension', vsix, '--force'], { env, encoding: 'utf8' });
  if (install.status !== 0) fail(`installing ${vsix} into code-server failed:\n${install.stdout}\n${install.stderr}`);

  // A sample workspace to type into (kept between runs: it is the user's playground).
  mkdirSync(ws, { recursive: true });
  if (!process.env.NEOX_WORKSPACE && !existsSync(join(ws, 'example.py'))) {
    writeFileSync(join(ws, 'example.py'), '# return the sum of a list\n\n\ndef fibonacci(n):\n');
    writeFileSync(join(ws, 'example.ts'), '// NeoX Complete: type here and press Tab to accept a suggestion\nexport function isPrime(n: number): boolean {\n');
    writeFileSync(
      join(ws, 'README.md'),
      '# NeoX Complete sample workspace\n\n- Type in `example.py`: ghost text appears; Tab accepts it.\n- Cursor on the comment, F1 > "NeoX: Generate code from comment".\n- The NeoX Chat icon in the activity bar opens the chat.\n',
    );
  }
  // User settings: our defaults under whatever the user changed (the file is kept between runs).
  const userSettings = join(dirs['user-data'], 'User', 'settings.json');
  mkdirSync(dirname(userSettings), { recursive: true });
  let current = {};
  let parsed = true;
  try {
    if (existsSync(userSettings)) current = JSON.parse(readFileSync(userSettings, 'utf8'));
  } catch {
    parsed = false; // VS Code allows comments in settings.json: a file we cannot parse is left as it is
  }
  const defaults = {
    'workbench.startupEditor': 'none',
    'telemetry.telemetryLevel': 'off',
    'extensions.autoCheckUpdates': false,
    // No "a git repository was found in the parent folders" question, wherever the workspace is.
    'git.openRepositoryInParentFolders': 'never',
  };
  const merged = { ...defaults, ...current };
  if (parsed && JSON.stringify(merged) !== JSON.stringify(current)) writeFileSync(userSettings, JSON.stringify(merged, null, 2));
});

const logFile = join(base, 'code-server.log');
const child = await step(`starting code-server on 127.0.0.1:${port}`, async () => {
  const c = spawn(
    process.execPath,
    [bin, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--user-data-dir', dirs['user-data'], '--extensions-dir', dirs.extensions, ws],
    { env, stdio: ['ignore', openSync(logFile, 'a'), openSync(logFile, 'a')] },
  );
  for (let i = 0; i < 240; i++) {
    if (c.exitCode !== null) break;
    if (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)) return c;
    await new Promise((r) => setTimeout(r, 250));
  }
  if (c.exitCode === null) c.kill('SIGTERM');
  fail(c.exitCode !== null ? `code-server exited (code ${c.exitCode}); see ${logFile}` : `code-server did not answer on port ${port} within 60 s; see ${logFile}`);
});
const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(ws)}`;
console.log(`\nNeoX Complete is running in VS Code (code-server ${CODE_SERVER_VERSION}), ready in ${secs(Date.now() - started)}. Open:\n\n  ${url}\n\nworkspace: ${ws}\n(log: ${logFile}; Ctrl+C stops it)`);
const stop = () => child.kill('SIGTERM');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
child.on('exit', (code) => process.exit(code ?? 0));
