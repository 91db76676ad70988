// Runs every test/**/*.test.ts with node:test through tsx (Node 20's --test takes no globs), one file at a
// time. Every file runs whatever fails before it; node:test's TAP output (ending in "# pass N" / "# fail N")
// is passed through unchanged, then the failed tests are listed once more by name and file, so a failure
// early in a long run is not lost in the scrollback. Exit code: node:test's (non-zero if anything failed).
// Usage: node test/run-unit.mjs [substring filter ...]
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

const filters = process.argv.slice(2);
const skipDirs = new Set(['fixtures', 'e2e', 'node_modules']);
function walk(dir, out = []) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (!skipDirs.has(name)) walk(p, out);
    } else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}
const files = walk('test').filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('run-unit: no test files matched');
  process.exit(1);
}
const started = Date.now();
console.error(`run-unit: ${files.length} test files${filters.length ? ` matching ${filters.join(', ')}` : ''}`);

// Leaf failures from the TAP stream: a "not ok" line whose own subtests all passed (no failed child before
// its plan line), named by its enclosing subtests, with the file from the YAML block's `location`.
const failures = [];
const stack = []; // [indent, name] of the open "# Subtest:" lines
let pending; // the last "not ok" waiting for its location line
let failedChildAt = -1; // indent of the most recent failed test, to tell parents from leaves
function onLine(line) {
  const indent = line.length - line.trimStart().length;
  const text = line.trim();
  let m;
  if ((m = /^# Subtest: (.*)$/.exec(text))) {
    while (stack.length && stack.at(-1)[0] >= indent) stack.pop();
    stack.push([indent, m[1]]);
  } else if ((m = /^(not ok|ok) \d+ - (.*?)(?: # (?:SKIP|TODO).*)?$/.exec(text))) {
    while (stack.length && stack.at(-1)[0] > indent) stack.pop();
    const path = stack.filter(([i]) => i < indent).map(([, n]) => n);
    if (m[1] === 'not ok') {
      const isParent = failedChildAt > indent;
      pending = isParent ? undefined : { name: [...path, m[2]].join(' > ').replaceAll(`${process.cwd()}/`, ''), indent, where: '' };
      if (pending) failures.push(pending);
      failedChildAt = indent;
    } else {
      pending = undefined;
      if (failedChildAt > indent) failedChildAt = -1;
    }
    if (stack.length && stack.at(-1)[0] === indent) stack.pop();
  } else if (pending && (m = /^location: '(.*)'$/.exec(text))) {
    pending.where = m[1].replace(`${process.cwd()}/`, '').replace(/^file:\/\//, '');
    pending = undefined;
  }
}

const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', '--test-concurrency=1', ...files], {
  stdio: ['inherit', 'pipe', 'inherit'],
});
let buf = '';
child.stdout.on('data', (d) => {
  process.stdout.write(d);
  buf += d;
  const lines = buf.split('\n');
  buf = lines.pop();
  lines.forEach(onLine);
});
const code = await new Promise((res) => child.on('close', (c, sig) => res(c ?? (sig ? 1 : 1))));
if (buf) onLine(buf);
const secs = ((Date.now() - started) / 1000).toFixed(0);
if (failures.length) {
  console.log(`\nrun-unit: ${failures.length} failed test${failures.length === 1 ? '' : 's'} (${files.length} files, ${secs} s):`);
  for (const f of failures) console.log(`  x ${f.name}${f.where ? `  (${f.where})` : ''}`);
} else {
  console.log(`\nrun-unit: ${code === 0 ? 'all passed' : `exit code ${code}`} (${files.length} files, ${secs} s)`);
}
process.exit(code === 0 && failures.length === 0 ? 0 : code || 1);
