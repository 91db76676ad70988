#!/usr/bin/env node
// `npm test`: every suite runs, whatever failed before it, then one summary; exit 1 if any failed.
//   0. the system packages the tests need (scripts/system-deps.mjs): installed with apt-get as root,
//      otherwise it stops at once and prints the one command to run;
//   1. typecheck (npm run typecheck), 2. unit + integration tests (npm run test:unit, node:test),
//   3. real-editor tests (npm run test:e2e, code-server + Chromium).
// Each suite's own output passes through unchanged (node:test's closing "# pass N" / "# fail N" lines
// included); the summary repeats the counts without the leading "#" so nothing is counted twice.
//   NEOX_TEST_SUITES=typecheck,unit npm test      run only some suites
//   npm test -- engine/cli                         filters for the unit suite (as test/run-unit.mjs)
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSystemDeps } from './system-deps.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const started = Date.now();
const secs = (ms) => `${(ms / 1000).toFixed(0)} s`;

const SUITES = [
  // failLine: the suite's own lines that name a failure, quoted in the summary.
  { id: 'typecheck', script: 'typecheck', title: 'typecheck (tsc -b)', failLine: /error TS\d+/ },
  { id: 'unit', script: 'test:unit', title: 'unit + integration tests (node:test)', passArgs: true, failLine: /^ {2}x / },
  { id: 'e2e', script: 'test:e2e', title: 'real-editor tests (code-server + Chromium)', needsSystem: true, failLine: /^not ok \d+ - / },
];
const only = process.env.NEOX_TEST_SUITES?.split(',').map((s) => s.trim()).filter(Boolean);
if (only) {
  const unknown = only.filter((id) => !SUITES.some((s) => s.id === id));
  if (unknown.length) {
    console.error(`NEOX_TEST_SUITES: unknown suite ${unknown.join(', ')} (suites: ${SUITES.map((s) => s.id).join(', ')})`);
    process.exit(2);
  }
}
const suites = SUITES.filter((s) => !only || only.includes(s.id));
const extraArgs = process.argv.slice(2);

if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) {
  console.error('npm test: the dependencies are not installed. Run:\n\n  npm ci\n');
  process.exit(1);
}
if (suites.some((s) => s.needsSystem) && !ensureSystemDeps()) process.exit(1);

/** Runs `npm run -s SCRIPT`, passing its output through and keeping the lines the summary quotes. */
function run(suite) {
  return new Promise((res) => {
    const args = ['run', '--silent', suite.script, ...(suite.passArgs && extraArgs.length ? ['--', ...extraArgs] : [])];
    const t0 = Date.now();
    const child = spawn('npm', args, { stdio: ['inherit', 'pipe', 'pipe'] });
    const counts = {};
    const keep = [];
    const scan = (text) => {
      for (const line of text.split('\n')) {
        let m;
        if ((m = /^# (tests|pass|fail|cancelled|skipped|todo) (\d+)$/.exec(line))) counts[m[1]] = Number(m[2]);
        else if ((m = /^# (\d+) passed, (\d+) failed/.exec(line))) Object.assign(counts, { pass: Number(m[1]), fail: Number(m[2]) });
        else if (suite.failLine.test(line)) keep.push(line.trimStart());
      }
    };
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      process.stdout.write(d);
      out += d;
      const i = out.lastIndexOf('\n');
      if (i >= 0) (scan(out.slice(0, i)), (out = out.slice(i + 1)));
    });
    child.stderr.on('data', (d) => {
      process.stderr.write(d);
      err += d;
      const i = err.lastIndexOf('\n');
      if (i >= 0) (scan(err.slice(0, i)), (err = err.slice(i + 1)));
    });
    child.on('close', (code, signal) => {
      scan(out + '\n' + err);
      res({ suite, code: code ?? (signal ? 1 : 1), ms: Date.now() - t0, counts, keep });
    });
  });
}

const results = [];
for (const suite of suites) {
  console.error(`\n===== npm test: ${suite.title} =====\n`);
  results.push(await run(suite));
}

const failed = results.filter((r) => r.code !== 0);
const lines = ['', '===== npm test: summary ====='];
for (const r of results) {
  const c = r.counts;
  const counts = c.pass !== undefined ? `  pass ${c.pass}, fail ${c.fail ?? 0}${c.cancelled ? `, cancelled ${c.cancelled}` : ''}${c.skipped ? `, skipped ${c.skipped}` : ''}` : '';
  lines.push(`${r.code === 0 ? 'ok    ' : 'FAILED'}  ${r.suite.id.padEnd(9)} ${secs(r.ms).padStart(6)}${counts}${r.code !== 0 && c.pass === undefined ? `  (exit code ${r.code})` : ''}`);
  if (r.code !== 0) for (const k of r.keep.slice(0, 25)) lines.push(`          ${k}`);
  if (r.code !== 0 && r.keep.length > 25) lines.push(`          ... ${r.keep.length - 25} more (see above)`);
}
lines.push(
  failed.length === 0
    ? `npm test: all ${results.length} suites passed in ${secs(Date.now() - started)}`
    : `npm test: ${failed.length} of ${results.length} suites failed (${failed.map((r) => r.suite.id).join(', ')}) in ${secs(Date.now() - started)}`,
);
console.log(lines.join('\n'));
process.exit(failed.length === 0 ? 0 : 1);
