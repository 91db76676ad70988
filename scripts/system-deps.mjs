#!/usr/bin/env node
// The system packages the tests need, defined once (used by `.ci/run` and `npm test`):
//   chromium                         the browser that drives the real-editor tests (playwright-core);
//   build-essential pkg-config python3 libkrb5-dev
//                                    code-server's native modules (node-pty, kerberos, argon2) compile
//                                    from source when code-server is installed into .cache/;
//   ripgrep                          code-server's @vscode/ripgrep would download rg from GitHub;
//   qemu-user                        runs the int8/int4 kernel tests on an emulated AVX2-only processor
//                                    (test/engine/kernels-avx2.test.ts; skipped where it is missing);
//   python3-numpy python3-yaml       ../shared/peer/make-gguf.sh (llama.cpp's gguf-py) converts the default
//                                    model to GGUF for the llama-server integration test
//                                    (test/remote/llama-server.test.ts) and npm run bench:peer.
//   fonts-wqy-microhei               a CJK font (1.6 MB download), so Chinese in the real-editor tests'
//                                    screenshots is characters, not empty boxes.
// Missing ones are installed with apt-get when this runs as root on Debian/Ubuntu; otherwise it stops at
// once and prints the one command to run. Exit 0: all present (or now installed); 1: missing.
//   node scripts/system-deps.mjs           check, install as root
//   node scripts/system-deps.mjs --check   check only, never install
//   node scripts/system-deps.mjs --print   print the apt-get command and exit
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Debian package -> how to tell it is there on a machine without dpkg (a command or a file). */
export const DEBIAN_PACKAGES = {
  chromium: () => Boolean(process.env.NEOX_CHROMIUM && existsSync(process.env.NEOX_CHROMIUM)) || has('chromium'),
  'build-essential': () => has('cc') && has('c++') && has('make'),
  'pkg-config': () => has('pkg-config'),
  python3: () => has('python3'),
  'libkrb5-dev': () => has('krb5-config') || existsSync('/usr/include/gssapi/gssapi.h'),
  ripgrep: () => has('rg'),
  'qemu-user': () => has('qemu-x86_64'),
  'python3-numpy': () => pythonHas('numpy'),
  'python3-yaml': () => pythonHas('yaml'),
  'fonts-wqy-microhei': () => existsSync('/usr/share/fonts/truetype/wqy/wqy-microhei.ttc'),
};
export const installCommand = (pkgs = Object.keys(DEBIAN_PACKAGES)) =>
  `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${pkgs.join(' ')}`;

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function pythonHas(module) {
  return spawnSync('python3', ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;
}

/** The packages from DEBIAN_PACKAGES that are missing (dpkg's word where dpkg exists). */
export function missingPackages(pkgs = Object.keys(DEBIAN_PACKAGES)) {
  // NEOX_CHROMIUM names a browser of the user's own: then Debian's chromium is not needed.
  const wanted = pkgs.filter((p) => !(p === 'chromium' && process.env.NEOX_CHROMIUM && existsSync(process.env.NEOX_CHROMIUM)));
  if (has('dpkg-query')) {
    const r = spawnSync('dpkg-query', ['-W', '-f=${Package} ${db:Status-Abbrev}\n', ...wanted], { encoding: 'utf8' });
    const installed = new Set(r.stdout.split('\n').filter((l) => /^\S+ ii/.test(l)).map((l) => l.split(' ')[0]));
    return wanted.filter((p) => !installed.has(p));
  }
  return wanted.filter((p) => !DEBIAN_PACKAGES[p]());
}

/** Checks `packages` (default: all), installs the missing ones as root with apt-get. True when all are there. */
export function ensureSystemDeps({ install = true, packages = Object.keys(DEBIAN_PACKAGES), log = (m) => console.error(m), purpose = 'the tests need' } = {}) {
  const missing = missingPackages(packages);
  if (missing.length === 0) return true;
  const isRoot = process.getuid?.() === 0;
  const apt = has('apt-get');
  if (install && isRoot && apt) {
    log(`system-deps: installing ${missing.join(' ')} with apt-get (about 1 to 2 minutes on a fresh machine)...`);
    const started = Date.now();
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const up = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    const inst = up.status === 0 && spawnSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: ['ignore', 'ignore', 'inherit'], env });
    if (up.status !== 0 || !inst || inst.status !== 0) {
      log(`system-deps: apt-get failed; run it yourself and retry:\n\n  ${installCommand(missing)}\n`);
      return false;
    }
    log(`system-deps: installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return missingPackages(packages).length === 0;
  }
  const why = !apt ? 'this machine has no apt-get: install the equivalents of these Debian packages' : !install ? 'checked only' : 'not root, so not installing them';
  const cmd = apt ? `sudo sh -c '${installCommand(missing)}'` : `(Debian/Ubuntu: ${installCommand(missing)})`;
  log(`system-deps: ${purpose} ${missing.join(', ')} (${why}). Run:\n\n  ${cmd}\n\nthen try again.`);
  return false;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args.includes('--print')) {
    console.log(installCommand());
    process.exit(0);
  }
  process.exit(ensureSystemDeps({ install: !args.includes('--check') }) ? 0 : 1);
}
