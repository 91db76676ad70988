/**
 * Chat requests fitted to the model's context (server/chat-fit.ts through server/generate.ts chat()):
 * the oldest turns go first, attachments are cut around their middle, the system prompt and the last
 * question stay, and the result says what was left out and which format the prompt used.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChatMessage, ChatRequest, CompletionBackend, CompletionResult, ModelInfo } from '../../engine/types';
import { fitChat } from '../../server/chat-fit';
import { chat, type GenerateDeps } from '../../server/generate';

/** About 4 characters a token, like the remote estimate. */
const count = async (t: string) => Math.ceil(t.length / 4);
const measure = async (messages: ChatMessage[]) => {
  let n = 0;
  for (const m of messages) n += (await count(m.content)) + 4;
  return n;
};

function conversation(turns: number): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (let i = 1; i <= turns; i++) {
    out.push({ role: 'user', content: `question ${i}: ${'why '.repeat(20)}` });
    out.push({ role: 'assistant', content: `answer ${i}: ${'because '.repeat(20)}` });
  }
  out.push({ role: 'user', content: 'the last question?' });
  return out;
}

/** A 400-line file whose selection of interest is in the middle. */
const FILE = Array.from({ length: 400 }, (_, i) => (i === 200 ? 'function selected() { return 42; }' : `const line${i} = ${i};`)).join('\n');

test('a conversation longer than the context: the oldest turns go first, a question with its answer', async () => {
  const turns = conversation(12);
  const all = await measure(turns);
  const f = await fitChat({ system: 'You help.', attachments: [], turns, budget: Math.floor(all / 3), measure });
  assert.ok((await measure(f.messages)) <= all / 3);
  assert.equal(f.omitted.attachmentChars, 0);
  assert.ok(f.omitted.turns > 0 && f.omitted.turns % 2 === 0, `${f.omitted.turns} messages dropped, whole exchanges`);
  assert.deepEqual(f.messages, turns.slice(f.omitted.turns), 'the newest turns are kept, in order, nothing else changed');
  assert.equal(f.messages[0]!.role, 'user');
  assert.equal(f.messages.at(-1)!.content, 'the last question?');
  // one more exchange would not have fitted
  assert.ok((await measure(turns.slice(f.omitted.turns - 2))) > all / 3);
});

test('an attachment longer than the context: cut around its middle, the system prompt and the last question kept', async () => {
  const turns = conversation(3);
  const f = await fitChat({ system: 'You help.', attachments: [{ fileName: 'big.ts', languageId: 'typescript', text: FILE }], turns, budget: 600, measure });
  assert.ok(f.promptTokens <= 600 && (await measure(f.messages)) <= 600);
  assert.equal(f.omitted.turns, 6, 'every earlier exchange went first');
  const system = f.messages[0]!;
  assert.equal(system.role, 'system');
  assert.ok(system.content.startsWith('You help. The user attached:\n\nbig.ts (typescript):\n```\n…\n'), system.content.slice(0, 80));
  assert.ok(system.content.endsWith('\n…\n```'));
  const kept = system.content.slice(system.content.indexOf('…\n') + 2, system.content.lastIndexOf('\n…'));
  assert.ok(FILE.includes(kept), 'one piece of the file, whole lines');
  assert.ok(kept.includes('function selected()'), 'the middle is kept');
  assert.ok(kept.startsWith('const line') && kept.endsWith(';'));
  assert.equal(f.omitted.attachmentChars, FILE.length - kept.length);
  assert.ok(kept.length > 1000, `kept ${kept.length} characters: the room is used`);
  assert.deepEqual(f.messages.slice(1), [{ role: 'user', content: 'the last question?' }]);
});

test('a question too long on its own is refused clearly', async () => {
  await assert.rejects(
    fitChat({ system: '', attachments: [], turns: [{ role: 'user', content: 'x'.repeat(4000) }], budget: 100, measure }),
    /the question is \d+ tokens .* leaves 100/,
  );
});

/** A backend that renders its prompts (like the local engine): the fitting measures what it renders. */
function renderingBackend(contextLength: number) {
  const seen: { request?: ChatRequest; prompt?: string } = {};
  const render = (req: ChatRequest) => ({
    prompt: 'FRAME '.repeat(40) + req.messages.map((m) => `${m.role}: ${m.content}\n`).join('') + 'assistant:',
    format: req.format && req.format !== 'auto' ? req.format : 'base',
  });
  const info: ModelInfo = { id: 'scripted', backend: 'local', contextLength, serializesGenerations: false, canEmbed: false };
  const backend: CompletionBackend = {
    load: async () => info,
    complete: async () => {
      throw new Error('not used');
    },
    renderChat: async (req) => render(req),
    async chat(req, onChunk): Promise<CompletionResult> {
      seen.request = req;
      onChunk?.({ index: 0, text: 'Sure.' });
      seen.prompt = render(req).prompt;
      return { choices: [{ index: 0, text: 'Sure.', finishReason: 'eos' }], usage: { promptTokens: 1, completionTokens: 1 }, chatFormat: render(req).format };
    },
    countTokens: count,
    health: async () => ({ ok: true }),
    dispose: async () => {},
  };
  const d: GenerateDeps = { backend, info, maxTokens: 64, temperature: 0, countTokens: count, signal: new AbortController().signal, emit: () => {} };
  return { d, seen };
}

test('chat(): history and attachment fitted with the rendered prompt measured; the result says what was left out and the format', async () => {
  const { d, seen } = renderingBackend(1024);
  const messages = conversation(10).map((m) => ({ role: m.role as 'user' | 'assistant', content: m.content }));
  const r = await chat({ streamId: 's', messages, context: [{ fileName: 'big.ts', text: FILE }] }, d);
  assert.equal(r.content, 'Sure.');
  assert.equal(r.format, 'base');
  assert.equal(r.omitted!.turns, 20);
  assert.ok(r.omitted!.attachmentChars > 0 && r.omitted!.attachmentChars < FILE.length);
  // prompt + room for the answer (256 tokens) fit in the context
  assert.ok((await count(seen.prompt!)) + 256 <= 1024, `prompt is ${await count(seen.prompt!)} tokens`);
  assert.equal(seen.request!.messages.at(-1)!.content, 'the last question?');
  assert.ok(seen.request!.messages[0]!.content.startsWith('You are a helpful coding assistant. The user attached:'));
});

test('chat(): a short conversation is sent whole; the request format, else the setting, is passed to the backend', async () => {
  const { d, seen } = renderingBackend(2048);
  const messages = [
    { role: 'user' as const, content: 'Hi' },
    { role: 'assistant' as const, content: 'Hello!' },
    { role: 'user' as const, content: 'Sum a list?' },
  ];
  const r = await chat({ streamId: 's', messages, format: 'dolly-v2' }, { ...d, chatFormat: 'stablelm-tuned-alpha' });
  assert.deepEqual(r.omitted, { turns: 0, attachmentChars: 0 });
  assert.equal(r.format, 'dolly-v2');
  assert.deepEqual(seen.request!.messages, messages);
  await chat({ streamId: 's', messages }, { ...d, chatFormat: 'stablelm-tuned-alpha' });
  assert.equal(seen.request!.format, 'stablelm-tuned-alpha');
  await assert.rejects(chat({ streamId: 's', messages, format: 'alpaca' as never }, d), /unknown format "alpaca"/);
});
