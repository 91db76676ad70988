// The kernel checks of quant-layout.test.ts on emulated ARM64 processors: onnxruntime-node's arm64
// binding, loaded by Debian's arm64 Node.js 18 (scripts/arm64-node.mjs unpacks it into .cache/), run
// under qemu-aarch64 from this x86-64 machine. MLAS picks its ARM64 kernels by the processor's features,
// so three processors are run:
//   neoverse-n1  ARMv8.2 with the int8 dot product (Graviton2, Ampere Altra): int8 activations, SDOT kernels;
//   cortex-a57   ARMv8.0, NEON only (Raspberry Pi 3/4 class): MatMulNBits' accuracy level 4 has no int8
//                kernel here and computes in fp32 over the dequantized weights (error vs the reference ~5e-8);
//   max          everything qemu implements (i8mm, SVE, bf16): another int8 kernel (results differ from
//                neoverse-n1's in the last bits).
// Each prefix has its own proc/cpuinfo because qemu 7.2 shows the guest the x86 host's (see the script).
// As in kernels-avx2.test.ts, the file is run as a script: node:test's runner would start an unemulated child.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const QEMU = 'qemu-aarch64';
const repo = fileURLToPath(new URL('../../', import.meta.url));
const PREPARE = 'node scripts/arm64-node.mjs';
const CPUS = ['neoverse-n1', 'cortex-a57', 'max'];

function skipReason(): string | false {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `runs on x86-64 Linux (this is ${process.platform}-${process.arch}; on arm64 quant-layout.test.ts runs natively)`;
  if (spawnSync(QEMU, ['-version']).status !== 0) return `${QEMU} not installed (apt-get install qemu-user)`;
  const check = spawnSync(process.execPath, [join(repo, 'scripts/arm64-node.mjs'), '--check'], { encoding: 'utf8' });
  if (check.status !== 0) return `no arm64 Node.js in .cache/arm64-root; prepare it with: ${PREPARE}`;
  return false;
}
const skip = skipReason();

// tsx's esbuild would look for @esbuild/linux-arm64; the host's binary, exec'd from the guest, runs natively.
function hostEsbuild(): string {
  const req = createRequire(createRequire(import.meta.url).resolve('tsx'));
  const esbuildDir = dirname(req.resolve('esbuild/package.json'));
  return createRequire(join(esbuildDir, 'package.json')).resolve(`@esbuild/linux-x64/bin/esbuild`);
}

for (const cpu of CPUS) {
  test(`int8 and int4 kernels match the JS reference on an emulated ARM64 processor (qemu -cpu ${cpu})`, { skip }, () => {
    const root = join(repo, '.cache/arm64-cpu', cpu);
    assert.ok(existsSync(join(root, 'usr/bin/node')), `${root} incomplete; run: ${PREPARE} --force`);
    const file = fileURLToPath(new URL('./quant-layout.test.ts', import.meta.url));
    // Without NODE_TEST_CONTEXT the child reports in plain TAP instead of to this runner.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const r = spawnSync(QEMU, ['-cpu', cpu, '-L', root, join(root, 'usr/bin/node'), '--import', 'tsx', '--test-reporter=tap', file], {
      cwd: repo,
      encoding: 'utf8',
      env: { ...env, ESBUILD_BINARY_PATH: hostEsbuild() },
      timeout: 300_000,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    const pass = /^# pass (\d+)/m.exec(out);
    const fail = /^# fail (\d+)/m.exec(out);
    assert.ok(pass && fail, `no test summary from the emulated run (exit ${r.status ?? r.signal}):\n${out.slice(-2000)}`);
    assert.equal(Number(fail[1]), 0, out.split('\n').filter((l) => /^not ok|error:|relative error/.test(l.trim())).join('\n'));
    assert.ok(Number(pass[1]) >= 10, `only ${pass[1]} kernel tests ran`);
  });
}
