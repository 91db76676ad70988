/** The commands that do not need a model answer: toggle, snooze, API key, statistics, menu wiring. */
import assert from 'node:assert/strict';
/// <reference types="mocha" />
import * as vscode from 'vscode';
import { api } from './helpers';

describe('commands', () => {
  it('"Toggle completions" flips neoxComplete.enabled and back', async () => {
    await api();
    const get = () => vscode.workspace.getConfiguration('neoxComplete').get<boolean>('enabled');
    const before = get();
    await vscode.commands.executeCommand('neoxComplete.toggle');
    assert.equal(get(), !before);
    await vscode.commands.executeCommand('neoxComplete.toggle');
    assert.equal(get(), before);
  });

  it('"Snooze" stops inline requests before they reach the server, and resumes', async () => {
    const a = await api();
    const doc = await vscode.workspace.openTextDocument({ language: 'python', content: 'def f(' });
    let calls = 0;
    const next = async () => {
      calls++;
      return [];
    };
    const provide = a.inline.middleware.provideInlineCompletionItems!;
    const ctx = { triggerKind: vscode.InlineCompletionTriggerKind.Invoke, selectedCompletionInfo: undefined };
    const token = new vscode.CancellationTokenSource().token;
    await vscode.commands.executeCommand('neoxComplete.snooze', 15);
    assert.ok(a.inline.snoozeRemainingMs > 14 * 60_000);
    assert.equal(await provide(doc, new vscode.Position(0, 6), ctx, token, next), null);
    assert.equal(calls, 0, 'no request while snoozed');
    await vscode.commands.executeCommand('neoxComplete.snooze', 0);
    assert.equal(a.inline.snoozeRemainingMs, 0);
    await provide(doc, new vscode.Position(0, 6), ctx, token, next);
    assert.equal(calls, 1, 'requests resume');
  });

  it('"Set API key" keeps the key in SecretStorage, not in settings', async () => {
    const a = await api();
    await vscode.commands.executeCommand('neoxComplete.setApiKey', 'test-key-123');
    assert.equal(await a.hasApiKey(), true);
    const all = JSON.stringify(vscode.workspace.getConfiguration('neoxComplete'));
    assert.ok(!all.includes('test-key-123'), 'the key is not in any setting');
    await vscode.commands.executeCommand('neoxComplete.setApiKey', '');
    assert.equal(await a.hasApiKey(), false);
  });

  it('"Show completion statistics" opens the server\'s numbers as a table', async () => {
    await api();
    const stats = await vscode.commands.executeCommand<{ requests: number; latencyMs: { count: number } }>('neoxComplete.showStatistics');
    assert.ok(stats, 'statistics came back');
    assert.equal(typeof stats.requests, 'number');
    assert.equal(typeof stats.latencyMs.count, 'number');
    const text = vscode.window.activeTextEditor?.document.getText() ?? '';
    assert.match(text, /completion statistics/);
    assert.match(text, /\| Requests \| \d+ \|/);
    assert.equal(vscode.window.activeTextEditor?.document.isDirty, false, 'a read-only view, nothing to save');
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });
});
