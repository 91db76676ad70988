/**
 * `npm run test:desktop` (scripts/test-desktop.mjs) where it cannot run: with VSCODE_EXECUTABLE naming no
 * usable VS Code it must say so in one line on stderr and exit 1, before building or downloading anything
 * (VSCODE_EXECUTABLE set means no download is tried, so this runs offline).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../scripts/test-desktop.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'neox-test-desktop-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function runWith(executable: string) {
  // The timeout only stops a hang from blocking the whole unit run; the script fails in well under a second.
  const r = spawnSync(process.execPath, [script], {
    env: { ...process.env, VSCODE_EXECUTABLE: executable },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.error, undefined, `the script did not finish: ${r.error?.message}`);
  return { code: r.status, stdout: r.stdout, lines: r.stderr.split('\n').filter((l) => l.trim() !== '') };
}

describe('npm run test:desktop without VS Code', () => {
  it('names a missing VSCODE_EXECUTABLE in one line and exits 1', () => {
    const missing = join(dir, 'no-such-vscode', 'code');
    const { code, stdout, lines } = runWith(missing);
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.equal(lines.length, 1, `expected one line, got:\n${lines.join('\n')}`);
    assert.match(lines[0], /^test:desktop: VS Code desktop is not available: /);
    assert.ok(lines[0].includes(`VSCODE_EXECUTABLE=${missing} does not exist`), lines[0]);
    assert.ok(lines[0].includes('update.code.visualstudio.com'), lines[0]);
  });

  it('rejects a VSCODE_EXECUTABLE that is not an executable file, in one line', () => {
    const notExecutable = join(dir, 'code');
    writeFileSync(notExecutable, 'not VS Code\n', { mode: 0o644 });
    const { code, stdout, lines } = runWith(notExecutable);
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.equal(lines.length, 1, `expected one line, got:\n${lines.join('\n')}`);
    assert.match(lines[0], /^test:desktop: VS Code desktop is not available: .* is not an executable file/);
  });
});
