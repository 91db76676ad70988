/**
 * The in-host test runner: the `run()` contract of @vscode/test-electron, which code-server honours
 * through the `extensionTestsPath` payload. Runs the suites with mocha and writes per-test results to
 * $NEOX_HOST_TEST_RESULTS (read by test/e2e/run.ts). Also runnable on desktop VS Code via .vscode-test.mjs.
 */
import { writeFileSync } from 'node:fs';
import * as mochaModule from 'mocha';

// mocha 12 is an ES module; through require() (Node 20's require(esm)) the class is a named export.
type MochaClass = typeof import('mocha');
const m = mochaModule as unknown as { Mocha?: MochaClass; default?: MochaClass };
const Mocha = (m.Mocha ?? m.default ?? mochaModule) as MochaClass;

export async function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 180_000, color: false, reporter: 'spec' });
  // The suites are bundled into this file: give them mocha's globals, then load them.
  mocha.suite.emit('pre-require', globalThis, 'neox-host-suite', mocha);
  await import('./extension.suite');
  await import('./commands.suite');
  await import('./engine.suite');
  const results: { name: string; ok: boolean; ms: number; error?: string }[] = [];
  await new Promise<void>((resolve, reject) => {
    const runner = mocha.run((failures) => {
      const file = process.env.NEOX_HOST_TEST_RESULTS;
      if (file) writeFileSync(file, JSON.stringify(results, null, 2));
      if (failures > 0) reject(new Error(`${failures} in-host test(s) failed`));
      else resolve();
    });
    runner.on('pass', (t) => results.push({ name: t.fullTitle(), ok: true, ms: t.duration ?? 0 }));
    runner.on('fail', (t, err: Error) => results.push({ name: t.fullTitle(), ok: false, ms: t.duration ?? 0, error: err.stack ?? err.message }));
  });
}
