// onnxruntime picks its CPU kernels by the processor's features (MLAS: AVX2, AVX-512, AVX-512 VNNI,
// NEON), so the kernel checks of quant-layout.test.ts are run again here under an emulated AVX2-only
// processor: qemu's user-mode emulator reports the CPUID of an AMD EPYC Rome (AVX2, no AVX-512),
// and onnxruntime dispatches to its AVX2 kernels exactly as on such a machine. This is how the
// saturating AVX2 int8 kernel (DynamicQuantizeMatMul, 4-100% error) was found from an AVX-512 host.
// node:test's runner would start the file in a fresh, unemulated process, so it is run as a script.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const QEMU = 'qemu-x86_64';
const hasQemu = process.arch === 'x64' && spawnSync(QEMU, ['-version']).status === 0;

test('int8 and int4 kernels match the JS reference on an emulated AVX2-only processor', { skip: hasQemu ? false : `${QEMU} not installed (apt-get install qemu-user)` }, () => {
  const file = fileURLToPath(new URL('./quant-layout.test.ts', import.meta.url));
  // Without NODE_TEST_CONTEXT the child reports in plain TAP instead of to this runner.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const r = spawnSync(QEMU, ['-cpu', 'EPYC-Rome', process.execPath, '--import', 'tsx', '--test-reporter=tap', file], { encoding: 'utf8', env, timeout: 300_000 });
  const out = `${r.stdout}\n${r.stderr}`;
  const pass = /^# pass (\d+)/m.exec(out);
  const fail = /^# fail (\d+)/m.exec(out);
  assert.ok(pass && fail, `no test summary from the emulated run (exit ${r.status}):\n${out.slice(-2000)}`);
  assert.equal(Number(fail[1]), 0, out.split('\n').filter((l) => /^not ok|error:/.test(l.trim())).join('\n'));
  assert.ok(Number(pass[1]) >= 10, `only ${pass[1]} kernel tests ran`);
});
