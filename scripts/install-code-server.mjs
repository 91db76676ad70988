#!/usr/bin/env node
// Installs code-server 4.100.3 (VS Code 1.100.3, the last release that runs on Node 20) into
// .cache/code-server, offline-friendly: only the npm registry is needed. The workarounds below are
// each needed on machines without internet access:
//  - `npm install -g code-server` breaks with npm 11, so it goes into a local prefix;
//  - as root, install scripts need unsafe_perm; node-pty's build runs `npx node-gyp` (needs yes=true);
//  - @vscode/ripgrep downloads rg from GitHub unless its cache already holds the archive, so we
//    put a tarball of the system's rg there;
//  - npm 11.12+ skips install scripts unless allowed: code-server's postinstall is the install;
//  - HOME and TMPDIR point inside .cache so nothing lands in the user's profile.
// Usage: node scripts/install-code-server.mjs   (prints the path of the code-server binary)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CODE_SERVER_VERSION = '4.100.3';
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const codeServerDir = join(root, '.cache', 'code-server');
export const codeServerBin = join(codeServerDir, 'node_modules', 'code-server', 'out', 'node', 'entry.js');

function installedVersion() {
  const pkg = join(codeServerDir, 'node_modules', 'code-server', 'package.json');
  if (!existsSync(pkg) || !existsSync(codeServerBin)) return undefined;
  // code-server's own modules are installed by its postinstall; the marker says it finished.
  if (!existsSync(join(codeServerDir, '.installed'))) return undefined;
  return JSON.parse(readFileSync(pkg, 'utf8')).version;
}

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export function ensureCodeServer({ log = (m) => console.error(m) } = {}) {
  if (installedVersion() === CODE_SERVER_VERSION) return codeServerBin;
  const home = join(codeServerDir, 'home');
  const tmp = join(codeServerDir, 'tmp');
  mkdirSync(home, { recursive: true });
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(codeServerDir, 'package.json'), JSON.stringify({ name: 'neox-code-server', private: true }) + '\n');

  const rg = which('rg');
  if (!rg) throw new Error('ripgrep is missing: install it first (apt-get install ripgrep), see .ci/run');
  const arch = process.arch === 'arm64' ? 'aarch64-unknown-linux-gnu' : 'x86_64-unknown-linux-musl';
  const cacheDir = join(tmp, 'vscode-ripgrep-cache-1.15.11');
  mkdirSync(cacheDir, { recursive: true });
  const tarball = join(cacheDir, `ripgrep-v13.0.0-10-${arch}.tar.gz`);
  if (!existsSync(tarball)) execFileSync('tar', ['czf', tarball, '-C', dirname(rg), 'rg']);

  const env = {
    ...process.env,
    HOME: home,
    TMPDIR: tmp,
    npm_config_unsafe_perm: 'true',
    npm_config_yes: 'true',
    // npm >= 11.12 runs no dependency install scripts unless allowed, and code-server's postinstall runs
    // nested project installs (node-pty, ripgrep, argon2, ...) whose scripts it needs: allow them for this
    // one pinned tool install, in its own prefix (never for the project's dependencies).
    npm_config_dangerously_allow_all_scripts: 'true',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    npm_config_update_notifier: 'false',
    // The user's ~/.npmrc is out of reach with HOME moved: keep the system Node headers for node-gyp.
    ...(existsSync('/usr/include/node/node.h') ? { npm_config_nodedir: '/usr' } : {}),
  };
  log(`installing code-server ${CODE_SERVER_VERSION} into ${codeServerDir} (about 1 minute; up to 4 with a slow network or processor)...`);
  const started = Date.now();
  const r = spawnSync('npm', ['install', '--no-save', '--prefix', codeServerDir, `code-server@${CODE_SERVER_VERSION}`], {
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`installing code-server failed (npm exit ${r.status}); see the output above`);
  if (!existsSync(codeServerBin)) throw new Error(`code-server installed but ${codeServerBin} is missing`);
  writeFileSync(join(codeServerDir, '.installed'), CODE_SERVER_VERSION + '\n');
  log(`code-server installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return codeServerBin;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    console.log(ensureCodeServer());
  } catch (e) {
    console.error(String(e instanceof Error ? e.message : e));
    process.exit(1);
  }
}
