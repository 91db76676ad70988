/** Commands that run the real model through the server: generate from comment, generate file, chat. */
import assert from 'node:assert/strict';
/// <reference types="mocha" />
import * as vscode from 'vscode';
import { api, openWorkspaceFile, waitForState, workspaceUri } from './helpers';

describe('generation commands (real model)', () => {
  it('"Generate code from comment" inserts code below the comment as one undoable edit', async () => {
    const a = await api();
    await waitForState(a, 'ready');
    const original = '# return the sum of a list\n';
    const editor = await openWorkspaceFile('host_sum.py', original);
    editor.selection = new vscode.Selection(0, 26, 0, 26);
    const range = await vscode.commands.executeCommand<vscode.Range | undefined>('neoxComplete.generateFromComment');
    assert.ok(range, 'a range came back');
    const text = editor.document.getText();
    assert.ok(text.startsWith('# return the sum of a list'), 'the comment stays');
    assert.ok(text.length > original.length + 3, `code was inserted: ${JSON.stringify(text)}`);
    assert.ok(range.start.line >= 1 || range.start.character > 0, 'below or after the comment');
    await vscode.commands.executeCommand('undo');
    assert.equal(editor.document.getText(), original, 'one undo removes the whole generation');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('"Generate file" creates the named file with streamed content and saves it', async () => {
    const a = await api();
    await waitForState(a, 'ready');
    const uri = await vscode.commands.executeCommand<vscode.Uri | undefined>('neoxComplete.generateFile', {
      description: 'a function that returns the maximum of a list of numbers',
      fileName: 'host_generated.py',
    });
    assert.ok(uri, 'a file came back');
    assert.equal(uri.toString(), workspaceUri('host_generated.py').toString());
    const onDisk = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
    assert.ok(onDisk.trim().length > 0, 'the file has content on disk');
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('chat answers, and the conversation is kept per workspace', async () => {
    const a = await api();
    await waitForState(a, 'ready');
    const before = a.chat.turns.length;
    const answer = await a.chat.ask('Write a Python function that adds two numbers.');
    assert.ok(answer && answer.trim().length > 0, 'an answer came back');
    const turns = a.chat.turns;
    assert.equal(turns.length, before + 2);
    assert.equal(turns[turns.length - 2].role, 'user');
    assert.equal(turns[turns.length - 1].content, answer);
  });
});

describe('cancelling a generation', () => {
  it('"Generate code from comment" cancelled mid-stream leaves the document as it was', async () => {
    const a = await api();
    await waitForState(a, 'ready');
    // A comment whose code streams for a while (about 250 ms of lines with the default model at
    // int8): short answers (a two-line Python function) finish before a cancel can reach the server.
    const comment = '// an express server with routes to list, create, update and delete users';
    const original = comment + '\n';
    const editor = await openWorkspaceFile('host_cancel.js', original);
    editor.selection = new vscode.Selection(0, comment.length, 0, comment.length);
    const cts = new vscode.CancellationTokenSource();
    let streamed = false;
    // Cancel as soon as the first streamed text lands in the document.
    const sub = vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.document === editor.document && e.contentChanges.length && !streamed) {
        streamed = true;
        cts.cancel();
      }
    });
    try {
      const range = await vscode.commands.executeCommand<vscode.Range | undefined>('neoxComplete.generateFromComment', { cancel: cts.token });
      assert.equal(range, undefined, 'no result after cancelling');
    } finally {
      sub.dispose();
    }
    assert.ok(streamed, 'text was streaming into the editor when cancelled');
    assert.equal(editor.document.getText(), original, 'the streamed text was removed');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('"Generate code from comment": a line typed above the comment while the code streams stays, and the code lands where it would have', async () => {
    const a = await api();
    await waitForState(a, 'ready');
    // Long enough to stream for a while (see the cancellation test below).
    const comment = '// an express server with routes to list, create, update and delete users';
    const original = comment + '\n';
    const editor = await openWorkspaceFile('host_typing.js', original);
    const generate = async () => {
      editor.selection = new vscode.Selection(0, comment.length, 0, comment.length);
      return vscode.commands.executeCommand<vscode.Range | undefined>('neoxComplete.generateFromComment');
    };
    // Undisturbed first: greedy decoding gives the same answer to the same request.
    assert.ok(await generate(), 'a range came back');
    const undisturbed = editor.document.getText();
    assert.ok(undisturbed.length > original.length + 20, `code was inserted: ${JSON.stringify(undisturbed)}`);
    await vscode.commands.executeCommand('undo');
    assert.equal(editor.document.getText(), original);

    const typed = '// typed while it streams\n';
    let typing: Thenable<boolean> | undefined;
    const sub = vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.document === editor.document && e.contentChanges.length && !typing) typing = editor.edit((b) => b.insert(new vscode.Position(0, 0), typed));
    });
    let range: vscode.Range | undefined;
    try {
      range = await generate();
    } finally {
      sub.dispose();
    }
    assert.ok(typing && (await typing), 'the line was typed while the code streamed');
    assert.ok(range, 'a range came back');
    assert.equal(editor.document.getText(), typed + undisturbed, 'the typed line above, then exactly what the undisturbed run wrote');
    assert.ok(editor.document.getText(range).trim().length > 0 && range.start.line >= 1, 'the returned range holds the code');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('"Generate code from comment" cancelled after a line was typed above it leaves the typed line and nothing else', async () => {
    const a = await api();
    await waitForState(a, 'ready');
    const comment = '// an express server with routes to list, create, update and delete users';
    const original = comment + '\n';
    const editor = await openWorkspaceFile('host_typing_cancel.js', original);
    editor.selection = new vscode.Selection(0, comment.length, 0, comment.length);
    const typed = '// typed while it streams\n';
    const cts = new vscode.CancellationTokenSource();
    let typing: Thenable<boolean> | undefined;
    const sub = vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.document !== editor.document || !e.contentChanges.length || typing) return;
      typing = editor.edit((b) => b.insert(new vscode.Position(0, 0), typed)).then((ok) => {
        cts.cancel();
        return ok;
      });
    });
    try {
      const range = await vscode.commands.executeCommand<vscode.Range | undefined>('neoxComplete.generateFromComment', { cancel: cts.token });
      assert.equal(range, undefined, 'no result after cancelling');
    } finally {
      sub.dispose();
    }
    assert.ok(typing && (await typing), 'the line was typed while the code streamed');
    assert.equal(editor.document.getText(), typed + original, 'the typed line stays; the streamed text is gone');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('"Generate code from comment" cancelled while its answer is being placed leaves the document as it was', async () => {
    const a = await api();
    await waitForState(a, 'ready');
    const comment = '# return the sum of a list';
    const original = comment + '\n';
    const editor = await openWorkspaceFile('host_cancel_placed.py', original);
    editor.selection = new vscode.Selection(0, comment.length, 0, comment.length);
    const cts = new vscode.CancellationTokenSource();
    let placing = false;
    // The streamed preview only grows; the first edit that takes text away replaces it with the answer.
    const sub = vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.document === editor.document && e.contentChanges.some((c) => c.rangeLength > 0) && !placing) {
        placing = true;
        cts.cancel();
      }
    });
    try {
      const range = await vscode.commands.executeCommand<vscode.Range | undefined>('neoxComplete.generateFromComment', { cancel: cts.token });
      assert.equal(range, undefined, 'no result after cancelling');
    } finally {
      sub.dispose();
    }
    assert.ok(placing, 'the answer was being placed when cancelled');
    assert.equal(editor.document.getText(), original, 'the answer was removed');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });
});
