/** Activation, manifest and settings: the extension as VS Code sees it. */
import assert from 'node:assert/strict';
/// <reference types="mocha" />
import * as vscode from 'vscode';
import { api, EXTENSION_ID, setSetting, until, waitForState } from './helpers';

/** The keys of the settings table (protocol/settings.ts) that must be contributed as neoxComplete.* settings. */
const SETTINGS = [
  'enabled', 'backend', 'modelPath', 'quantization', 'remoteUrl', 'remoteModel', 'maxTokens', 'temperature', 'debounceMs', 'enabledLanguages', 'contextBudget',
  'candidates', 'maxLines', 'crossFileContext', 'remoteCaFile', 'remoteConnectTimeoutMs', 'remoteFirstTokenTimeoutMs',
];

describe('extension', () => {
  it('activates, starts the language server and reaches ready with the default model', async () => {
    const a = await api();
    await until('language server running', () => a.neox.client.isRunning(), 60_000);
    await waitForState(a, 'ready');
    assert.match(a.statusBar.current.model, /neox-code-23m/);
    assert.equal(a.statusBar.current.backend, 'local');
  });

  it('registers every contributed command', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const contributed = (ext.packageJSON.contributes.commands as { command: string }[]).map((c) => c.command);
    const registered = new Set(await vscode.commands.getCommands(true));
    assert.ok(contributed.length >= 12);
    assert.deepEqual(contributed.filter((c) => !registered.has(c)), []);
  });

  it('contributes every setting with a description and a default, and the chat view', () => {
    const pkg = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON;
    const props = pkg.contributes.configuration.properties as Record<string, { description?: string; markdownDescription?: string; default?: unknown }>;
    for (const k of SETTINGS) {
      const p = props[`neoxComplete.${k}`];
      assert.ok(p, `neoxComplete.${k} is contributed`);
      assert.ok((p.description ?? p.markdownDescription ?? '').length > 10, `neoxComplete.${k} has a description`);
      assert.notEqual(p.default, undefined, `neoxComplete.${k} has a default`);
    }
    assert.equal(pkg.contributes.views.neoxComplete[0].type, 'webview');
    assert.equal(pkg.engines.vscode, '^1.100.0');
  });

  it('restarts the language server when it dies', async () => {
    const a = await api();
    await waitForState(a, 'ready');
    const { execFileSync } = await import('node:child_process');
    const { readFileSync } = await import('node:fs');
    const children = () => {
      try {
        return execFileSync('pgrep', ['-P', String(process.pid)], { encoding: 'utf8' }).trim().split('\n');
      } catch {
        return []; // pgrep exits 1 when there are none (between the kill and the restart)
      }
    };
    const serverPids = () =>
      children().filter((pid) => {
        try {
          return pid !== '' && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('server.mjs');
        } catch {
          return false;
        }
      });
    const [server] = serverPids();
    assert.ok(server, 'found the language server process');
    // Record the client's state changes: the restart can be quicker than any polling of isRunning().
    const states: number[] = [];
    const sub = a.neox.client.onDidChangeState((e) => states.push(e.newState));
    try {
      process.kill(Number(server), 'SIGKILL');
      await until('a new language server process', () => {
        const now = serverPids();
        return now.length > 0 && !now.includes(server!);
      }, 60_000);
      await until('the restarted client', () => a.neox.client.isRunning(), 60_000);
    } finally {
      sub.dispose();
    }
    assert.ok(states.length > 0, `the client noticed the crash (states ${JSON.stringify(states)})`);
    await waitForState(a, 'ready');
  });

  it('applies a settings change live: a missing model folder is an error naming it, fixing it recovers', async () => {
    const a = await api();
    await waitForState(a, 'ready');
    const missing = '/nonexistent/neox-model';
    try {
      await setSetting('modelPath', missing);
      await waitForState(a, 'error', 60_000);
      assert.match(a.statusBar.current.message ?? '', /nonexistent\/neox-model/);
    } finally {
      await setSetting('modelPath', undefined);
    }
    await waitForState(a, 'ready');
  });
});

describe('load progress', () => {
  it('shows a progress notification while a model is built and loaded', async () => {
    const a = await api();
    await waitForState(a, 'ready');
    const before = a.statusBar.progressNotifications;
    try {
      // A precision this profile has not built yet: the server converts the checkpoint again.
      await setSetting('quantization', 'fp32');
      await until('the loading state', () => a.statusBar.current.state === 'loading' || a.statusBar.progressNotifications > before, 60_000);
      await waitForState(a, 'ready');
      assert.ok(a.statusBar.progressNotifications > before, 'a progress notification was shown');
    } finally {
      await setSetting('quantization', undefined);
    }
    await waitForState(a, 'ready');
  });
});
