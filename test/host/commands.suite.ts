/** The commands that do not need a model answer: toggle, snooze, API key, statistics, menu wiring. */
import assert from 'node:assert/strict';
/// <reference types="mocha" />
import * as vscode from 'vscode';
import { api, openWorkspaceFile, until } from './helpers';

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
    // Shown rendered: the Markdown preview of the read-only statistics document becomes the active tab
    // (markdown.showPreview returns before its webview panel exists).
    const isPreview = (t?: vscode.Tab) => t?.input instanceof vscode.TabInputWebview && t.input.viewType.includes('markdown.preview');
    await until('the statistics preview active', () => isPreview(vscode.window.tabGroups.activeTabGroup.activeTab), 20_000);
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'neox-stats');
    assert.ok(doc, 'the statistics document is open');
    assert.match(doc.getText(), /completion statistics/);
    assert.match(doc.getText(), /\| Requests \| \d+ \|/);
    assert.equal(doc.isDirty, false, 'a read-only view, nothing to save');
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });
});

describe('inline completion events', () => {
  it('reports shown once, nothing while typing through, dismissed when replaced, accepted through the item command', async () => {
    const { GetStatisticsRequest } = await import('../../protocol/index');
    const a = await api();
    await until('language server running', () => a.neox.client.isRunning(), 60_000);
    const stats = () => a.neox.client.sendRequest(GetStatisticsRequest);
    const editor = await openWorkspaceFile('host_events.py', 'x = ');
    const doc = editor.document;
    const provide = a.inline.middleware.provideInlineCompletionItems!;
    const ctx = { triggerKind: vscode.InlineCompletionTriggerKind.Automatic, selectedCompletionInfo: undefined };
    const token = new vscode.CancellationTokenSource().token;
    // What the server sends: the completionId first in the command arguments.
    const item = (id: string, text: string) => new vscode.InlineCompletionItem(text, undefined, { title: '', command: 'neoxComplete.inlineAccepted', arguments: [id] });
    const s0 = await stats();

    await provide(doc, new vscode.Position(0, 4), ctx, token, async () => [item('host-1', '42 + 1')]);
    await editor.edit((b) => b.insert(new vscode.Position(0, 4), '4'));
    await provide(doc, new vscode.Position(0, 5), ctx, token, async () => [item('host-1', '2 + 1')]);
    await editor.edit((b) => b.insert(new vscode.Position(0, 5), 'z'));
    const result = await provide(doc, new vscode.Position(0, 6), ctx, token, async () => [item('host-2', ' + 1')]);
    const accepted = (Array.isArray(result) ? result : result!.items)[0].command!;
    await vscode.commands.executeCommand(accepted.command, ...(accepted.arguments ?? []));

    const s1 = await until('the events in the server statistics', async () => {
      const s = await stats();
      return s.accepted > s0.accepted ? s : undefined;
    }, 10_000);
    assert.equal(s1.shown - s0.shown, 2, 'host-1 and host-2 shown once each');
    assert.equal(s1.dismissed - s0.dismissed, 1, 'host-1 dismissed once, when replaced (not while typed through)');
    assert.equal(s1.accepted - s0.accepted, 1, 'host-2 accepted');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });
});
