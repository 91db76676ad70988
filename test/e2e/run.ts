/**
 * `npm run test:e2e`: the extension in a real VS Code (code-server 4.100.3 + Debian Chromium +
 * playwright-core), installed from the packaged .vsix into a fresh profile, with the real default model.
 *
 *  1. installs code-server into .cache/ if missing (scripts/install-code-server.mjs);
 *  2. builds and packages the .vsix for this platform (scripts/package.mjs), unless NEOX_E2E_VSIX names one;
 *  3. runs the UI scenarios (test/e2e/scenarios.ts), screenshots under test-results/;
 *  4. runs the in-host mocha suite (test/host) through code-server's extensionTestsPath payload;
 *  5. prints node:test-style lines and an 'N passed, N failed' summary; exit code 1 on any failure.
 *
 * Environment: NEOX_E2E_QUANT (quantization for the test workspace, default int8), NEOX_E2E_ONLY
 * (substring: run only matching scenarios), NEOX_E2E_SKIP_HOST=1, NEOX_E2E_KEEP=1 (keep the run folder).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { freePort, installExtension, makeDirs, startCodeServer, type RunningCodeServer } from './harness/code-server';
import { launchBrowser, Workbench } from './harness/workbench';
import { scenarios } from './scenarios';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const resultsDir = join(root, 'test-results');
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const log = (m: string) => console.error(`[e2e ${elapsed()}] ${m}`);

interface Outcome {
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}
const outcomes: Outcome[] = [];

function hostTarget(): string {
  const t = `${process.platform}-${process.arch}`;
  if (!['linux-x64', 'linux-arm64'].includes(t)) throw new Error(`the e2e run needs Linux x64/arm64 (code-server + Debian Chromium); this is ${t}`);
  return t;
}

function ensureCodeServer(): string {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'install-code-server.mjs')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error('installing code-server failed (see above)');
  return r.stdout.trim().split('\n').pop()!;
}

function packageVsix(): string {
  if (process.env.NEOX_E2E_VSIX) return resolve(process.env.NEOX_E2E_VSIX);
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'package.mjs'), '--target', hostTarget()], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error('packaging the .vsix failed (see above)');
  return r.stdout.trim().split('\n').pop()!;
}

function buildHostTests(): string {
  const out = join(root, 'out', 'test', 'host');
  execFileSync(process.execPath, [join(root, 'test', 'host', 'build.mjs'), out], { cwd: root, stdio: 'inherit' });
  return join(out, 'index');
}

function writeWorkspace(dir: string, quant: string): void {
  mkdirSync(join(dir, '.vscode'), { recursive: true });
  const settings = {
    'neoxComplete.quantization': quant,
    'neoxComplete.debounceMs': 150,
    // The chat scenario's question was chosen for the 23M model in the GPT-NeoXT format, where it
    // answers with a fenced block that Insert can take; in its automatic (few-shot) frame it does not.
    'neoxComplete.chatFormat': 'neoxt-chat',
    'files.autoSave': 'off',
    'editor.inlineSuggest.enabled': true,
    'editor.quickSuggestions': { other: false, comments: false, strings: false },
    'editor.suggestOnTriggerCharacters': false,
    'editor.acceptSuggestionOnEnter': 'off',
    'editor.wordBasedSuggestions': 'off',
  };
  writeFileSync(join(dir, '.vscode', 'settings.json'), JSON.stringify(settings, null, 2));
  writeFileSync(join(dir, 'main.py'), '');
  writeFileSync(join(dir, 'sum.py'), '# return the sum of a list\n');
  writeFileSync(join(dir, 'chat_target.py'), '');
  writeFileSync(join(dir, 'notes.txt'), '');
  writeFileSync(join(dir, 'cycle.py'), '');
  writeFileSync(join(dir, 'downloaded.py'), '');
}

function writeUserSettings(userData: string): void {
  mkdirSync(join(userData, 'User'), { recursive: true });
  writeFileSync(
    join(userData, 'User', 'settings.json'),
    JSON.stringify(
      {
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'workbench.enableExperiments': false,
        'telemetry.telemetryLevel': 'off',
        'extensions.autoUpdate': false,
        'extensions.autoCheckUpdates': false,
        'extensions.ignoreRecommendations': true,
        'update.mode': 'none',
        'security.workspace.trust.enabled': false,
        'chat.commandCenter.enabled': false,
        'window.commandCenter': false,
        // The run folder is inside this git repository: no "open the parent repository?" prompts.
        'git.enabled': false,
        'git.openRepositoryInParentFolders': 'never',
      },
      null,
      2,
    ),
  );
}

async function runScenarios(browser: Browser, server: RunningCodeServer, workspace: string, hfCache: string): Promise<void> {
  const only = process.env.NEOX_E2E_ONLY;
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('pageerror', (e) => log(`page error: ${e.message}`));
  await page.goto(`${server.url}/?folder=${encodeURIComponent(workspace)}`);
  const wb = new Workbench(page);
  await wb.ready();
  log('workbench loaded');
  const state = await wb.waitForNeoxState(/NeoX/, 60_000);
  log(`status bar: ${state}`);
  for (const s of scenarios) {
    if (only && !s.name.includes(only)) continue;
    const t0 = Date.now();
    log(`scenario: ${s.name}`);
    try {
      await Promise.race([
        s.run({
          wb,
          workspace,
          hfCache,
          log: (m) => log(`  ${m}`),
          shot: async (name, of) => {
            const p = join(resultsDir, `${name}.png`);
            if (of) await of.screenshot({ path: p });
            else await wb.screenshot(p);
            return p;
          },
        }),
        new Promise((_, reject) => setTimeout(() => reject(new Error(`scenario timed out after ${s.timeoutMs / 1000} s`)), s.timeoutMs).unref()),
      ]);
      outcomes.push({ name: s.name, ok: true, ms: Date.now() - t0 });
    } catch (e) {
      const slug = s.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
      await wb.screenshot(join(resultsDir, `FAILED-${slug}.png`)).catch(() => undefined);
      outcomes.push({ name: s.name, ok: false, ms: Date.now() - t0, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
      // Leave no modal UI behind for the next scenario.
      await page.keyboard.press('Escape').catch(() => undefined);
    }
  }
  await page.close();
}

/** The in-host mocha suite, launched like test-electron does: extensionDevelopmentPath + extensionTestsPath. */
async function runHostTests(
  browser: Browser,
  server: RunningCodeServer,
  extensionDir: string,
  testsPath: string,
  workspace: string,
  resultsFile: string,
  logsDir: string,
): Promise<void> {
  const t0 = Date.now();
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const remote = (p: string) => `vscode-remote://127.0.0.1:${server.port}${p}`;
  const payload = JSON.stringify([
    ['extensionDevelopmentPath', remote(extensionDir)],
    ['extensionTestsPath', remote(testsPath)],
  ]);
  const exitCode = new Promise<number>((resolveExit) => {
    void page.exposeFunction('codeAutomationExit', (code: number) => resolveExit(code));
  });
  const consoleLog = join(logsDir, 'host-tests-console.log');
  page.on('console', (m) => {
    const text = m.text();
    appendFileSync(consoleLog, `${m.type()}: ${text}\n`);
    if (/^\s*(✔|✓|[0-9]+\) |passing|failing|pending)/.test(text) || /neox-host/.test(text)) log(`  host: ${text.split('\n')[0]}`);
  });
  await page.goto(`${server.url}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(payload)}`);
  const code = await Promise.race([
    exitCode,
    new Promise<number>((_, reject) => setTimeout(() => reject(new Error('in-host tests did not finish within 5 minutes')), 300_000).unref()),
  ]).catch((e: Error) => {
    outcomes.push({ name: 'in-host mocha suite', ok: false, ms: Date.now() - t0, error: e.message });
    return undefined;
  });
  await page.screenshot({ path: join(resultsDir, '6-host-tests.png') }).catch(() => undefined);
  await page.close();
  if (code === undefined) return;
  // Per-test results written by the suite (test/host/index.ts); fall back to the exit code alone.
  const results = existsSync(resultsFile) ? (JSON.parse(readFileSync(resultsFile, 'utf8')) as Outcome[]) : [];
  for (const r of results) outcomes.push({ ...r, name: `host: ${r.name}` });
  if (!results.length || (code !== 0 && results.every((r) => r.ok))) {
    outcomes.push({ name: 'in-host mocha suite', ok: code === 0, ms: Date.now() - t0, error: code === 0 ? undefined : `exit code ${code}` });
  }
}

async function main(): Promise<number> {
  mkdirSync(resultsDir, { recursive: true });
  for (const f of readdirSync(resultsDir)) if (f.endsWith('.png')) rmSync(join(resultsDir, f));
  const bin = ensureCodeServer();
  log(`code-server: ${bin}`);
  const vsix = packageVsix();
  log(`vsix: ${vsix}`);
  const hostTests = process.env.NEOX_E2E_SKIP_HOST ? undefined : buildHostTests();

  // Earlier failed runs were kept for inspection; a new run replaces them.
  const runsDir = join(root, '.cache', 'e2e');
  if (existsSync(runsDir)) for (const d of readdirSync(runsDir)) if (d.startsWith('run-')) rmSync(join(runsDir, d), { recursive: true, force: true });
  const runDir = join(runsDir, `run-${process.pid}`);
  const dirs = makeDirs(runDir);
  const workspace = join(runDir, 'workspace');
  const hostWorkspace = join(runDir, 'host-workspace');
  const quant = process.env.NEOX_E2E_QUANT ?? 'int8';
  writeWorkspace(workspace, quant);
  writeWorkspace(hostWorkspace, quant);
  writeUserSettings(dirs.userData);
  installExtension(bin, dirs, vsix);
  const extDir = readdirSync(dirs.extensions).find((d) => d.startsWith('neox-complete.neox-complete-'));
  if (!extDir) throw new Error(`the .vsix did not install into ${dirs.extensions}`);
  log(`installed into a fresh profile: ${extDir} (quantization ${quant})`);

  const hostResults = join(runDir, 'host-results.json');
  process.env.NEOX_HOST_TEST_RESULTS = hostResults;
  const port = await freePort();
  const server = await startCodeServer(bin, dirs, port, workspace);
  log(`code-server on ${server.url}`);
  let browser: Browser | undefined;
  try {
    browser = await launchBrowser();
    await runScenarios(browser, server, workspace, dirs.hfCache);
    if (hostTests) await runHostTests(browser, server, join(dirs.extensions, extDir), hostTests, hostWorkspace, hostResults, dirs.logs);
  } finally {
    await browser?.close().catch(() => undefined);
    await server.stop();
    if (!process.env.NEOX_E2E_KEEP && outcomes.every((o) => o.ok)) rmSync(runDir, { recursive: true, force: true });
    else log(`run folder kept for inspection: ${runDir} (logs in ${dirs.logs}, ${join(dirs.userData, 'logs')})`);
  }

  outcomes.forEach((o, i) => {
    console.log(`${o.ok ? 'ok' : 'not ok'} ${i + 1} - ${o.name} (${(o.ms / 1000).toFixed(1)} s)`);
    if (o.error) console.log(o.error.split('\n').map((l) => `  # ${l}`).join('\n'));
  });
  const passed = outcomes.filter((o) => o.ok).length;
  const failed = outcomes.length - passed;
  console.log(`1..${outcomes.length}`);
  console.log(`# ${passed} passed, ${failed} failed (real-editor run ${elapsed()}; screenshots in test-results/)`);
  return failed === 0 && outcomes.length > 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`[e2e] ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    console.log('# 0 passed, 1 failed (the real-editor run could not start)');
    process.exit(1);
  },
);
