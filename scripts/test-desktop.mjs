// `npm run test:desktop`: the in-host mocha suite (test/host) in desktop VS Code, through
// @vscode/test-electron's runTests and its extensionTestsPath contract (test/host/index.ts `run()`).
//
//  1. finds VS Code: the executable named by VSCODE_EXECUTABLE, else VS Code <version from .vscode-test.mjs>
//     downloaded into .cache/vscode-test/ (or found there from an earlier download); the download gives up
//     when the update host has not started sending within DOWNLOAD_START_MS, or stalls for DOWNLOAD_IDLE_MS;
//  2. without DISPLAY/WAYLAND_DISPLAY on Linux, runs itself again under `xvfb-run -a`;
//  3. builds the extension (esbuild.mjs) and the suite (test/host/build.mjs out/test/host);
//  4. runs the suite with the repository as the extension under development, a fresh workspace and a
//     profile under .cache/vscode-test/; exit code 0 only when every test passed.
//
// When VS Code cannot be had, or there is no display, it prints one line saying why and exits 1 before
// building anything. Offline CI runs the same suite in code-server instead (npm run test:e2e).
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { basename, delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const config = (await import(pathToFileURL(join(root, '.vscode-test.mjs')).href)).default;
const version = config.version;
const cacheDir = join(root, '.cache', 'vscode-test');
const DOWNLOAD_START_MS = 15_000;
const DOWNLOAD_IDLE_MS = 10_000;
const UPDATE_HOST = 'update.code.visualstudio.com';

/** The one line this script prints when it cannot run the suite, then exit code 1. */
function fail(message) {
  console.error(`test:desktop: ${message.replace(/\s*\n\s*/g, ' ')}`);
  process.exit(1);
}
const notAvailable = (why) =>
  fail(`VS Code desktop is not available: ${why}; set VSCODE_EXECUTABLE=/path/to/code or allow downloads from ${UPDATE_HOST}`);

function isExecutableFile(p) {
  try {
    accessSync(p, constants.X_OK);
    const st = statSync(p);
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** VSCODE_EXECUTABLE, checked; the `bin/code` launcher script becomes the Electron binary next to it. */
function namedExecutable(named) {
  const p = resolve(named);
  if (!existsSync(p)) fail(`VS Code desktop is not available: VSCODE_EXECUTABLE=${named} does not exist; set it to the desktop VS Code executable (for example /usr/share/code/code), or unset it to download VS Code ${version} from ${UPDATE_HOST}`);
  let exe = statSync(p).isDirectory() ? join(p, 'code') : realpathSync(p);
  // /usr/bin/code -> /usr/share/code/bin/code is a shell launcher that returns at once; runTests needs the app.
  if (basename(exe) === 'code' && basename(dirname(exe)) === 'bin' && isExecutableFile(join(dirname(dirname(exe)), 'code'))) {
    exe = join(dirname(dirname(exe)), 'code');
  }
  if (!isExecutableFile(exe)) fail(`VS Code desktop is not available: VSCODE_EXECUTABLE=${named} is not an executable file (${exe}); set it to the desktop VS Code executable (for example /usr/share/code/code)`);
  return exe;
}

/** VS Code `version` from the cache or the update host; gives up if the host does not start answering. */
async function downloadedExecutable() {
  const { downloadAndUnzipVSCode } = await import('@vscode/test-electron');
  let lastError;
  let started = false;
  let lastShown = -1;
  const reporter = {
    report(r) {
      if (r.stage === 'downloading') {
        started = true;
        const pct = r.totalBytes ? Math.floor((100 * r.bytesSoFar) / r.totalBytes / 25) * 25 : 0;
        if (pct !== lastShown) console.error(`test:desktop: downloading VS Code ${version}: ${pct}% of ${(r.totalBytes / 1e6).toFixed(0)} MB`);
        lastShown = pct;
      } else if (r.stage === 'foundMatchingInstall') started = true;
      else if (r.stage === 'retrying') lastError = r.error;
    },
    error(e) {
      lastError = e;
    },
  };
  let timer;
  const watchdog = new Promise((_, reject) => {
    timer = setTimeout(() => {
      if (!started) reject(new Error(`no answer from ${UPDATE_HOST} within ${DOWNLOAD_START_MS / 1000} s`));
    }, DOWNLOAD_START_MS);
  });
  try {
    return await Promise.race([downloadAndUnzipVSCode({ version, cachePath: cacheDir, reporter, timeout: DOWNLOAD_IDLE_MS }), watchdog]);
  } catch (e) {
    const cause = lastError instanceof Error && lastError !== e ? `: ${lastError.message}` : '';
    return notAvailable(`downloading VS Code ${version} failed (${e instanceof Error ? e.message : String(e)}${cause})`);
  } finally {
    clearTimeout(timer);
  }
}

function onPath(cmd) {
  return (process.env.PATH ?? '').split(delimiter).some((d) => d && isExecutableFile(join(d, cmd)));
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) fail(`\`${[cmd, ...args].join(' ')}\` failed (${r.error?.message ?? `exit code ${r.status ?? r.signal}`})`);
}

const executable = process.env.VSCODE_EXECUTABLE ? namedExecutable(process.env.VSCODE_EXECUTABLE) : await downloadedExecutable();

if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
  if (!onPath('xvfb-run')) fail('desktop VS Code needs a display: DISPLAY is unset and xvfb-run is not installed (apt-get install xvfb, or run with a display)');
  console.error('test:desktop: no DISPLAY, running under xvfb-run');
  const r = spawnSync('xvfb-run', ['-a', '-s', '-screen 0 1280x1024x24', process.execPath, fileURLToPath(import.meta.url)], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, VSCODE_EXECUTABLE: executable },
  });
  if (r.error) fail(`xvfb-run could not be started (${r.error.message})`);
  process.exit(r.status ?? 1);
}

run(process.execPath, [join(root, 'esbuild.mjs')]);
const testsDir = join(root, 'out', 'test', 'host');
run(process.execPath, [join(root, 'test', 'host', 'build.mjs'), testsDir]);

// A fresh workspace and profile each run, so that nothing from an earlier run (settings the suite wrote,
// extension state) changes this one.
const workspace = config.workspaceFolder;
rmSync(workspace, { recursive: true, force: true });
mkdirSync(workspace, { recursive: true });
const profile = join(cacheDir, 'profile');
rmSync(profile, { recursive: true, force: true });
const resultsDir = join(root, 'test-results');
mkdirSync(resultsDir, { recursive: true });
const resultsFile = join(resultsDir, 'desktop-host-results.json');
rmSync(resultsFile, { force: true });
// Inside a VS Code terminal this is set, and would make the Electron binary behave as plain Node.
delete process.env.ELECTRON_RUN_AS_NODE;

console.error(`test:desktop: running the in-host suite in ${executable}`);
const started = Date.now();
const { runTests } = await import('@vscode/test-electron');
let failure;
try {
  await runTests({
    vscodeExecutablePath: executable,
    extensionDevelopmentPath: root,
    extensionTestsPath: join(testsDir, 'index.js'),
    launchArgs: [
      workspace,
      ...config.launchArgs.filter((a) => a !== workspace),
      `--user-data-dir=${join(profile, 'user-data')}`,
      `--extensions-dir=${join(profile, 'extensions')}`,
    ],
    extensionTestsEnv: { NEOX_HOST_TEST_RESULTS: resultsFile },
  });
} catch (e) {
  failure = e instanceof Error ? e.message : String(e);
}
const results = existsSync(resultsFile) ? JSON.parse(readFileSync(resultsFile, 'utf8')) : [];
const passed = results.filter((r) => r.ok).length;
const summary = `${passed} passed, ${results.length - passed} failed in ${((Date.now() - started) / 1000).toFixed(0)} s (${resultsFile})`;
if (failure) fail(`the in-host suite failed in VS Code desktop: ${failure}; ${summary}`);
// test/host/index.ts writes the file whenever its run() ran: without it, VS Code exited before the suite ran.
if (results.length === 0) fail(`VS Code exited without running the in-host suite (no results in ${resultsFile})`);
console.error(`test:desktop: ${summary}`);
