/**
 * The in-host test runner. Two ways in, both loading the same suites:
 *  - `run()`, the extensionTestsPath contract of @vscode/test-electron (`npm run test:desktop`,
 *    scripts/test-desktop.mjs), which code-server also honours through its `extensionTestsPath` payload
 *    (`npm run test:e2e`, test/e2e/run.ts). Writes per-test results to $NEOX_HOST_TEST_RESULTS when set.
 *  - as a mocha test file, which is how @vscode/test-cli's runner loads `files` (.vscode-test.mjs, with
 *    mocha's `delay` option: the suites are registered, then mocha's global `run()` starts them).
 */
import { writeFileSync } from 'node:fs';
import type MochaType from 'mocha';

type MochaClass = typeof MochaType;

async function loadSuites(): Promise<void> {
  await import('./extension.suite');
  await import('./commands.suite');
  await import('./engine.suite');
}

export async function run(): Promise<void> {
  // Imported here, not at the top: mocha 12 is an ES module, which require() loads only from Node 20.19 on
  // (desktop VS Code's Electron may ship an older Node 20); import() works in every extension host.
  const m = (await import('mocha')) as unknown as { Mocha?: MochaClass; default?: MochaClass };
  const Mocha = (m.Mocha ?? m.default) as MochaClass;
  const mocha = new Mocha({ ui: 'bdd', timeout: 180_000, color: false, reporter: 'spec' });
  // The suites are bundled into this file: give them mocha's globals, then load them.
  mocha.suite.emit('pre-require', globalThis, 'neox-host-suite', mocha);
  await loadSuites();
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

// Loaded as a mocha test file (@vscode/test-cli): mocha's globals are already defined at this point,
// which they are not when an extension host require()s this file to call run().
const mochaGlobals = globalThis as { describe?: unknown; it?: (title: string, fn: () => never) => void; run?: () => void };
if (typeof mochaGlobals.describe === 'function') {
  loadSuites().then(
    () => mochaGlobals.run?.(),
    (e: unknown) => {
      mochaGlobals.it?.('loads the in-host suites', () => {
        throw e;
      });
      mochaGlobals.run?.();
    },
  );
}
