// "Generate code from comment" against a stand-in editor and server: a cancel at any point before the
// command returns leaves the document as it was (streamed text and final text removed, the user's own
// typing kept), including a cancel the editor reports late, after the answer has come back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GenerateFromCommentParams, GenerateFromCommentResult } from '../../protocol/index';
import { StreamRouter } from '../../client/streams';
import type { NeoxClient } from '../../client/neox-client';
import './fake-vscode/load';
import { CancellationTokenSource, FakeDocument, FakeEditor, Position, Range, window, type CancellationToken } from './fake-vscode/vscode';

const { generateFromComment } = await import('../../client/commands/generate-from-comment');

const comment = '// add two numbers';
const below = '\nconsole.log(add(1, 2));\n';
const original = comment + below;
// As the server sends them: the code streams in pieces, the answer goes where the preview was.
const pieces = ['function add(a, b) {', '\n  return a + b;', '\n}'];
const answer: GenerateFromCommentResult = {
  range: { start: { line: 0, character: comment.length }, end: { line: 0, character: comment.length } },
  text: '\n' + pieces.join(''),
  comment,
  finishReason: 'stop',
};

type Server = (p: GenerateFromCommentParams, token: CancellationToken, send: (delta: string) => void) => Promise<GenerateFromCommentResult>;

/** A NeoxClient whose language server is `server`; its deltas reach the command like neox/stream notifications. */
function neoxWith(server: Server): { neox: NeoxClient; errors: string[] } {
  const streams = new StreamRouter();
  const errors: string[] = [];
  const client = {
    sendRequest: (_type: unknown, p: GenerateFromCommentParams, token: CancellationToken) =>
      server(p, token, (delta) => streams.dispatch({ streamId: p.streamId, delta })),
    protocol2CodeConverter: {
      asRange: (r: GenerateFromCommentResult['range']) =>
        new Range(new Position(r.start.line, r.start.character), new Position(r.end.line, r.end.character)),
    },
  };
  const neox = { ready: async () => client, streams, showError: (m: string) => errors.push(m) };
  return { neox: neox as unknown as NeoxClient, errors };
}

function editorOn(text: string): FakeEditor {
  const editor = new FakeEditor(new FakeDocument(text), new Position(0, comment.length));
  window.activeTextEditor = editor;
  return editor;
}

/** Lets every callback already queued run (promise reactions and I/O callbacks come before setImmediate's). */
const queuedCallbacksDone = () => new Promise<void>((resolve) => setImmediate(resolve));

test('without a cancel, the answer replaces the preview in one undo step', async () => {
  const editor = editorOn(original);
  const { neox, errors } = neoxWith(async (_p, _t, send) => {
    pieces.forEach(send);
    return answer;
  });
  const range = await generateFromComment(neox);
  assert.deepEqual(errors, []);
  assert.equal(editor.document.text, comment + answer.text + below);
  assert.ok(range);
  assert.equal(editor.document.getText(range), answer.text);
  assert.deepEqual(
    editor.editOptions.map((o) => o.undoStopBefore),
    editor.editOptions.map((_o, i) => i === 0),
    'only the first edit opens an undo step',
  );
});

test('a cancel prompted by the first streamed text, which the editor shows only after the answer came back, removes everything', async () => {
  const editor = editorOn(original);
  const cts = new CancellationTokenSource();
  // The user sees the first code appear and cancels.
  editor.onDidChange(() => cts.cancel());
  let sendAnswer!: (r: GenerateFromCommentResult) => void;
  const { neox, errors } = neoxWith((_p, _t, send) => {
    pieces.forEach(send);
    return new Promise((resolve) => (sendAnswer = resolve));
  });
  // A busy editor: the edit that shows the first piece is answered late.
  editor.holdEdits = true;
  const run = generateFromComment(neox, { cancel: cts.token });
  await editor.editWaiting();
  sendAnswer(answer);
  await queuedCallbacksDone();
  editor.applyWaiting();
  assert.equal(await run, undefined, 'no result after cancelling');
  assert.deepEqual(errors, []);
  assert.equal(editor.document.text, original, 'the streamed text was removed');
  assert.ok(editor.editOptions.slice(1).every((o) => !o.undoStopBefore), 'the removal joins the generation’s undo step');
});

test('a cancel while the answer is being placed removes it and keeps what the user typed meanwhile', async () => {
  const editor = editorOn(original);
  const cts = new CancellationTokenSource();
  const { neox, errors } = neoxWith(async (_p, _t, send) => {
    const shown = editor.changed();
    send(pieces[0]!);
    await shown;
    // The user edits the line below while the code streams.
    editor.userEdit(editor.document.text.indexOf('1, 2'), 4, '3, 4');
    pieces.slice(1).forEach(send);
    return answer;
  });
  let placed = false;
  editor.onDidChange((changes) => {
    if (changes.some((c) => c.inserted === answer.text)) {
      placed = true;
      cts.cancel();
    }
  });
  assert.equal(await generateFromComment(neox, { cancel: cts.token }), undefined, 'no result after cancelling');
  assert.ok(placed, 'the cancel came as the answer was placed');
  assert.deepEqual(errors, []);
  assert.equal(editor.document.text, original.replace('1, 2', '3, 4'), 'the answer was removed, the user’s edit kept');
});

test('a cancel before the answer comes back removes the streamed text', async () => {
  const editor = editorOn(original);
  const cts = new CancellationTokenSource();
  const { neox } = neoxWith((_p, token, send) => {
    send(pieces[0]!);
    return new Promise((resolve) => token.onCancellationRequested(() => resolve({ ...answer, text: '', finishReason: 'cancelled' })));
  });
  editor.onDidChange(() => cts.cancel());
  assert.equal(await generateFromComment(neox, { cancel: cts.token }), undefined);
  assert.equal(editor.document.text, original);
});

test('a line typed above the comment while the code streams stays; the answer lands below the comment', async () => {
  const editor = editorOn(original);
  const typed = '// typed meanwhile\n';
  const { neox, errors } = neoxWith(async (_p, _t, send) => {
    const shown = editor.changed();
    send(pieces[0]!);
    await shown;
    editor.userEdit(0, 0, typed);
    pieces.slice(1).forEach(send);
    return answer;
  });
  const range = await generateFromComment(neox);
  assert.deepEqual(errors, []);
  assert.equal(editor.document.text, typed + comment + answer.text + below);
  assert.ok(range);
  assert.equal(editor.document.getText(range), answer.text, 'the returned range holds the answer');
});

test('a cancel after a line was typed above the comment leaves the typed line and nothing of the stream', async () => {
  const editor = editorOn(original);
  const typed = '// typed meanwhile\n';
  const cts = new CancellationTokenSource();
  const { neox } = neoxWith((_p, token, send) => {
    const shown = editor.changed();
    send(pieces[0]!);
    void shown.then(() => {
      editor.userEdit(0, 0, typed);
      pieces.slice(1).forEach(send);
      cts.cancel();
    });
    return new Promise((resolve) => token.onCancellationRequested(() => resolve({ ...answer, text: '', finishReason: 'cancelled' })));
  });
  assert.equal(await generateFromComment(neox, { cancel: cts.token }), undefined);
  assert.equal(editor.document.text, typed + original);
});

test('typing inside the streamed code makes it the user’s: a cancel leaves it, later pieces are not added', async () => {
  const editor = editorOn(original);
  const cts = new CancellationTokenSource();
  const { neox } = neoxWith((_p, token, send) => {
    const shown = editor.changed();
    send(pieces[0]!);
    void shown.then(() => {
      // Inside "function add(a, b) {": the user renames it.
      editor.userEdit(editor.document.text.indexOf('add(a'), 3, 'sum');
      pieces.slice(1).forEach(send);
      setImmediate(() => cts.cancel());
    });
    return new Promise((resolve) => token.onCancellationRequested(() => resolve({ ...answer, text: '', finishReason: 'cancelled' })));
  });
  assert.equal(await generateFromComment(neox, { cancel: cts.token }), undefined);
  assert.equal(editor.document.text, comment + '\nfunction sum(a, b) {' + below);
});
