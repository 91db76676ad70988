#!/usr/bin/env node
// An arm64 Node.js (Debian's nodejs 18 and its shared libraries) unpacked into .cache/arm64-root, to run
// onnxruntime-node's arm64 binding under qemu's user-mode emulator on an x86-64 machine
// (test/engine/kernels-arm64.test.ts: the int8/int4 kernel checks on emulated ARM64 processors).
//   node scripts/arm64-node.mjs            prepare it (idempotent; about 30 MB from deb.debian.org, ~10 s)
//   node scripts/arm64-node.mjs --check    exit 0 when prepared, 1 (with the reason) when not
//   node scripts/arm64-node.mjs --force    download and unpack again
// Nothing is installed on the system: apt runs with its own configuration, package lists and cache under
// .cache/arm64-apt (arm64 only; no `dpkg --add-architecture`, no root needed), `apt-get download` fetches
// the .deb files of `nodejs` and its Depends closure, and `dpkg-deb -x` unpacks them. Needs Debian's
// apt-get, dpkg-deb and debian-archive-keyring, and qemu-user (qemu-aarch64) to run anything.
//
// Then, for each emulated processor in CPUS, .cache/arm64-cpu/<cpu>/ is a qemu prefix (`qemu-aarch64 -L`)
// whose lib, usr and etc link to the root and whose proc/cpuinfo describes that processor. qemu 7.2 does
// not emulate /proc/cpuinfo for aarch64: the guest would read the x86 host's, and onnxruntime's cpuinfo
// library then dereferences NULL while initialising (SIGSEGV on `require('onnxruntime-node')`). qemu opens
// paths under the -L prefix first, so the prefix's proc/cpuinfo is read instead. It must match `-cpu`:
// cpuinfo takes the dot-product extension from the MIDR (part 0xd0c, Neoverse N1, implies it), so a
// Neoverse N1 cpuinfo under `-cpu cortex-a57` runs SDOT instructions and dies with SIGILL.
//   R=.cache/arm64-cpu/neoverse-n1
//   ESBUILD_BINARY_PATH=$PWD/node_modules/@esbuild/linux-x64/bin/esbuild \
//     qemu-aarch64 -cpu neoverse-n1 -L $R $R/usr/bin/node --import tsx --test-reporter=tap test/engine/quant-layout.test.ts
// (ESBUILD_BINARY_PATH: tsx's esbuild would look for @esbuild/linux-arm64; the x86 binary it execs runs natively.)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = join(repo, '.cache', 'arm64-root');
const APT = join(repo, '.cache', 'arm64-apt');
const CPU_DIR = join(repo, '.cache', 'arm64-cpu');
const STAMP = join(ROOT, '.neox-arm64-root.json');
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/** qemu -cpu name -> /proc/cpuinfo of that processor (MIDR fields as qemu 7.2 sets them, Linux's feature names). */
export const CPUS = {
  // ARMv8.2 with the dot-product extension (AWS Graviton2, Ampere Altra): MLAS's int8 SDOT kernels.
  'neoverse-n1': { midr: [0x41, 0x4, 0xd0c, 1], features: 'fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs' },
  // ARMv8.0, NEON only (Cortex-A53/A57/A72 boards, e.g. Raspberry Pi 3/4): no int8 dot product.
  'cortex-a57': { midr: [0x41, 0x1, 0xd07, 0], features: 'fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid' },
  // Everything qemu implements (int8 matrix multiply i8mm, SVE, bf16): the features come from the
  // emulated hwcaps; this MIDR (implementer 0) names no known core, so nothing is implied by it.
  max: { midr: [0x00, 0x0, 0x051, 0], features: 'fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp sve i8mm bf16' },
};

/** The qemu -L prefix for `cpu` (lib/usr/etc of ROOT plus its own proc/cpuinfo). */
export const prefix = (cpu) => join(CPU_DIR, cpu);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal}):\n${(r.stderr || r.stdout || String(r.error ?? '')).slice(-2000)}`);
  return r.stdout;
}

/** Why the arm64 root is not usable, or null when it is. */
export function notReady() {
  if (!existsSync(join(ROOT, 'usr/bin/node')) || !existsSync(STAMP)) return `${ROOT} is not prepared`;
  for (const cpu of Object.keys(CPUS)) if (!existsSync(join(prefix(cpu), 'proc/cpuinfo'))) return `${prefix(cpu)} is missing`;
  return null;
}

function cpuinfo({ midr: [implementer, variant, part, revision], features }, n) {
  let s = '';
  for (let i = 0; i < n; i++) {
    s += `processor\t: ${i}\nBogoMIPS\t: 50.00\nFeatures\t: ${features}\nCPU implementer\t: 0x${implementer.toString(16).padStart(2, '0')}\n`;
    s += `CPU architecture: 8\nCPU variant\t: 0x${variant.toString(16)}\nCPU part\t: 0x${part.toString(16).padStart(3, '0')}\nCPU revision\t: ${revision}\n\n`;
  }
  return s;
}

/** The per-processor prefixes; processors as many as /sys/devices/system/cpu/possible says (cpuinfo reads it too). */
function writeCpuPrefixes() {
  const possible = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
  const n = possible.split(',').reduce((a, r) => a + (r.includes('-') ? Number(r.split('-')[1]) - Number(r.split('-')[0]) + 1 : 1), 0);
  for (const [cpu, spec] of Object.entries(CPUS)) {
    const p = prefix(cpu);
    rmSync(p, { recursive: true, force: true });
    mkdirSync(join(p, 'proc'), { recursive: true });
    for (const d of readdirSync(ROOT)) if (!d.startsWith('.')) symlinkSync(join('..', '..', 'arm64-root', d), join(p, d));
    writeFileSync(join(p, 'proc/cpuinfo'), cpuinfo(spec, n));
  }
}

export function prepare({ force = false, log = (m) => console.error(m) } = {}) {
  if (!force && !notReady()) return true;
  for (const [tool, pkg] of [['apt-get', 'apt'], ['apt-cache', 'apt'], ['dpkg-deb', 'dpkg']]) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} not found: this needs Debian's ${pkg}`);
  }
  if (!existsSync(KEYRING)) throw new Error(`${KEYRING} not found: apt-get install debian-archive-keyring`);
  const os = readFileSync('/etc/os-release', 'utf8');
  const codename = /^VERSION_CODENAME=(\S+)/m.exec(os)?.[1];
  if (!/^ID=debian$/m.test(os) || !codename) throw new Error('not Debian: the arm64 root is made from Debian packages (deb.debian.org)');
  const started = Date.now();
  const mirror = process.env.NEOX_DEBIAN_MIRROR || 'http://deb.debian.org/debian';
  const security = process.env.NEOX_DEBIAN_SECURITY_MIRROR || 'http://deb.debian.org/debian-security';
  for (const d of ['lists/partial', 'archives/partial', 'etc/sources.list.d', 'etc/preferences.d', 'debs']) mkdirSync(join(APT, d), { recursive: true });
  const src = (url, suite) => `deb [arch=arm64 signed-by=${KEYRING}] ${url} ${suite} main\n`;
  writeFileSync(join(APT, 'etc/sources.list'), src(mirror, codename) + src(mirror, `${codename}-updates`) + src(security, `${codename}-security`));
  writeFileSync(join(APT, 'status'), '');
  const opts = [
    'APT::Architecture=arm64', 'APT::Architectures::=arm64', `Dir::State::Lists=${APT}/lists`, `Dir::State::status=${APT}/status`,
    `Dir::Cache=${APT}`, `Dir::Etc::SourceList=${APT}/etc/sources.list`, `Dir::Etc::SourceParts=${APT}/etc/sources.list.d`,
    `Dir::Etc::Preferences=${APT}/etc/preferences`, `Dir::Etc::PreferencesParts=${APT}/etc/preferences.d`,
    'APT::Sandbox::User=root', 'Debug::NoLocking=1',
  ].flatMap((o) => ['-o', o]);
  log(`arm64-node: fetching the ${codename} arm64 package lists...`);
  run('apt-get', [...opts, '-qq', 'update']);
  const closure = run('apt-cache', [...opts, 'depends', '--recurse', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances', 'nodejs']);
  const pkgs = [...new Set(closure.split('\n').filter((l) => /^[a-z0-9]/.test(l)))].sort();
  log(`arm64-node: downloading ${pkgs.join(' ')}`);
  const debs = join(APT, 'debs');
  for (const f of readdirSync(debs)) rmSync(join(debs, f));
  run('apt-get', [...opts, '-qq', 'download', ...pkgs], { cwd: debs });
  rmSync(ROOT, { recursive: true, force: true });
  mkdirSync(ROOT, { recursive: true });
  const files = readdirSync(debs).filter((f) => f.endsWith('.deb')).sort();
  for (const f of files) run('dpkg-deb', ['-x', join(debs, f), ROOT]);
  writeCpuPrefixes();
  writeFileSync(STAMP, JSON.stringify({ codename, debs: files, prepared: new Date().toISOString() }, null, 1) + '\n');
  log(`arm64-node: ${ROOT} prepared from ${files.length} packages in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return true;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args.includes('--check')) {
    const why = notReady();
    if (why) console.error(`arm64-node: ${why}; run: node scripts/arm64-node.mjs`);
    process.exit(why ? 1 : 0);
  }
  try {
    prepare({ force: args.includes('--force') });
    const why = notReady();
    if (why) throw new Error(why);
  } catch (e) {
    console.error(`arm64-node: ${e.message}`);
    process.exit(1);
  }
}
