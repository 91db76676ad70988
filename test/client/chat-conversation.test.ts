// The chat conversation store: stopped answers are kept (so the view after a reload matches what was
// shown) but never sent to the model empty; a stop that crossed the finished answer marks it stopped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as vscode from 'vscode';
import { answerInfo, Conversation } from '../../client/chat/conversation';

function memento(): vscode.Memento {
  const m = new Map<string, unknown>();
  return {
    keys: () => [...m.keys()],
    get: <T>(k: string, d?: T) => (m.has(k) ? (m.get(k) as T) : d),
    update: async (k: string, v: unknown) => void m.set(k, v),
  } as vscode.Memento;
}

test('a stopped empty answer is stored for the view but left out of what the model sees', async () => {
  const c = new Conversation(memento());
  await c.push({ role: 'user', content: 'q1' });
  await c.push({ role: 'assistant', content: '', stopped: true });
  await c.push({ role: 'user', content: 'q2' });
  assert.equal(c.turns.length, 3);
  assert.deepEqual(c.forModel(12), {
    messages: [
      { role: 'user', content: 'q1' },
      { role: 'user', content: 'q2' },
    ],
    earlier: 0,
  });
});

test('forModel keeps the most recent turns in the protocol shape (no stored-only fields) and counts the ones kept back', async () => {
  const c = new Conversation(memento());
  for (let i = 0; i < 5; i++) {
    await c.push({ role: 'user', content: `q${i}` });
    await c.push({ role: 'assistant', content: `a${i}`, stopped: i === 4, format: 'Dolly-v2', ...(i === 3 ? { notice: 'Left out: x.' } : {}) });
  }
  const { messages, earlier } = c.forModel(3);
  assert.deepEqual(messages, [
    { role: 'assistant', content: 'a3' },
    { role: 'user', content: 'q4' },
    { role: 'assistant', content: 'a4' },
  ]);
  assert.equal(earlier, 7);
  // The stored turns keep what the view shows under the answers.
  assert.deepEqual(c.turns[7], { role: 'assistant', content: 'a3', stopped: false, format: 'Dolly-v2', notice: 'Left out: x.' });
});

test("answerInfo: the chat result's format label and notice as the view shows them", () => {
  assert.deepEqual(answerInfo({ format: 'dolly-v2', formatLabel: 'Dolly-v2', notice: "Left out to fit the model's context of 512 tokens: the oldest message." }), {
    format: 'Dolly-v2',
    notice: "Left out to fit the model's context of 512 tokens: the oldest message.",
  });
  // An older server: the format's id; nothing said: nothing shown.
  assert.deepEqual(answerInfo({ format: 'base' }), { format: 'base' });
  assert.deepEqual(answerInfo({}), {});
  assert.deepEqual(answerInfo(undefined), {});
});

test('markLastAnswerStopped marks only a trailing answer, once', async () => {
  const c = new Conversation(memento());
  await c.push({ role: 'user', content: 'q1' });
  await c.markLastAnswerStopped();
  assert.deepEqual(c.turns, [{ role: 'user', content: 'q1' }], 'a question is never marked');
  await c.push({ role: 'assistant', content: 'a1' });
  await c.markLastAnswerStopped();
  assert.deepEqual(c.turns[1], { role: 'assistant', content: 'a1', stopped: true });
  await c.clear();
  assert.deepEqual(c.turns, []);
});
