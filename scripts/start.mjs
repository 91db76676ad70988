#!/usr/bin/env node
// `npm start`: try the product in a browser VS Code on any machine. Builds and packages the .vsix for
// this platform, installs it into a local code-server (the same 4.100.3 setup as the real-editor tests,
// profile in .cache/start/), opens a sample workspace and prints the URL. Ctrl+C stops it.
//   NEOX_PORT=18280 npm start      (default port 18280)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureCodeServer } from './install-code-server.mjs';
import { build, packageTarget } from './package.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const base = join(root, '.cache', 'start');
const dirs = Object.fromEntries(['home', 'tmp', 'user-data', 'extensions', 'workspace'].map((d) => [d, join(base, d)]));
for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
const env = { ...process.env, HOME: dirs.home, TMPDIR: dirs.tmp };
const port = Number(process.env.NEOX_PORT ?? 18280);

const bin = ensureCodeServer();
build();
const vsix = packageTarget(`${process.platform}-${process.arch}`);
const install = spawnSync(process.execPath, [bin, '--extensions-dir', dirs.extensions, '--user-data-dir', dirs['user-data'], '--install-extension', vsix, '--force'], { env, encoding: 'utf8' });
if (install.status !== 0) {
  console.error(`installing ${vsix} into code-server failed:\n${install.stdout}\n${install.stderr}`);
  process.exit(1);
}

// A sample workspace to type into (kept between runs: it is the user's playground).
const ws = dirs.workspace;
if (!existsSync(join(ws, 'example.py'))) {
  writeFileSync(join(ws, 'example.py'), '# return the sum of a list\n\n\ndef fibonacci(n):\n');
  writeFileSync(join(ws, 'example.ts'), '// NeoX Complete: type here and press Tab to accept a suggestion\nexport function isPrime(n: number): boolean {\n');
  writeFileSync(
    join(ws, 'README.md'),
    '# NeoX Complete sample workspace\n\n- Type in `example.py`: ghost text appears; Tab accepts it.\n- Cursor on the comment, F1 > "NeoX: Generate code from comment".\n- The NeoX Chat icon in the activity bar opens the chat.\n',
  );
}
const userSettings = join(dirs['user-data'], 'User', 'settings.json');
if (!existsSync(userSettings)) {
  mkdirSync(dirname(userSettings), { recursive: true });
  writeFileSync(userSettings, JSON.stringify({ 'workbench.startupEditor': 'none', 'telemetry.telemetryLevel': 'off', 'extensions.autoCheckUpdates': false }, null, 2));
}

const logFile = join(base, 'code-server.log');
const child = spawn(
  process.execPath,
  [bin, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--user-data-dir', dirs['user-data'], '--extensions-dir', dirs.extensions, ws],
  { env, stdio: ['ignore', openSync(logFile, 'a'), openSync(logFile, 'a')] },
);
const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(ws)}`;
for (let i = 0; i < 240; i++) {
  if (child.exitCode !== null) break;
  if (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)) {
    console.log(`\nNeoX Complete is running in VS Code (code-server 4.100.3). Open:\n\n  ${url}\n\n(log: ${logFile}; Ctrl+C stops it)`);
    break;
  }
  await new Promise((r) => setTimeout(r, 250));
}
if (child.exitCode !== null) {
  console.error(`code-server exited (code ${child.exitCode}); see ${logFile}`);
  process.exit(1);
}
const stop = () => child.kill('SIGTERM');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
child.on('exit', (code) => process.exit(code ?? 0));
