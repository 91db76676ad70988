// What the chat view shows under an answer arrives with the chat result, through the language server
// (a loopback OpenAI-compatible stand-in with a 512-token model): the chat format's name for people
// (formats.json `label`, or the server's own template), and, when the history or the attachment was
// cut to fit the context, a notice saying what was left out (the turns, counting those the client kept
// back; the lines around an attachment's selection).
import { after, before, describe, test as nodeTest } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type Harness } from './lsp-harness';
import { DONE, json, sseHead, startScripted, vllmChatChunk, vllmCompletionChunk, vllmModels, type Scripted } from '../remote/scripted-server';
import type { ChatResult } from '../../protocol/index';

const test = (name: string, fn: () => Promise<void>) => nodeTest(name, { timeout: 60_000 }, fn);

describe('chat result: format label and what was left out (recording backend)', () => {
  let srv: Scripted;
  let h: Harness;
  let n = 0;
  const chat = (params: Record<string, unknown>) => h.conn.sendRequest<ChatResult>('neox/chat', { streamId: `info-${n++}`, ...params });
  before(async () => {
    srv = await startScripted(async (req, res) => {
      if (req.path === '/v1/models') return json(res, 200, vllmModels(512));
      if (req.method !== 'POST') return json(res, 404, { error: 'not found' });
      const chatting = req.path === '/v1/chat/completions';
      sseHead(res);
      res.write(chatting ? vllmChatChunk(0, { content: 'Sure.' }) : vllmCompletionChunk(0, ' Sure.'));
      res.write(chatting ? vllmChatChunk(0, {}, 'stop') : vllmCompletionChunk(0, '', 'stop'));
      res.end(DONE);
    });
    h = await startServer({ backend: 'openai', remoteUrl: srv.url, remoteModel: '', debounceMs: 0, maxTokens: 64 });
    await h.waitReady(20_000);
  });
  after(async () => {
    await h?.close();
    await srv?.close();
  });

  test("the format's label comes with the answer: a built-in format by its formats.json label, the server's own template by name", async () => {
    const dolly = await chat({ messages: [{ role: 'user', content: 'Hi' }], format: 'dolly-v2' });
    assert.equal(dolly.format, 'dolly-v2');
    assert.equal(dolly.formatLabel, 'Dolly-v2');
    assert.match(String(srv.requests.at(-1)!.body.prompt), /### Instruction:\nHi\n\n### Response:\n$/, 'rendered in that format');
    const neoxt = await chat({ messages: [{ role: 'user', content: 'Hi' }], format: 'neoxt-chat' });
    assert.equal(neoxt.formatLabel, 'GPT-NeoXT-Chat');
    const server = await chat({ messages: [{ role: 'user', content: 'Hi' }] });
    assert.equal(server.format, 'server');
    assert.equal(server.formatLabel, "the server's chat template");
    assert.equal(server.notice, undefined, 'nothing left out, nothing said');
    assert.deepEqual(server.omitted, { turns: 0, attachmentChars: 0 });
  });

  test('a history longer than the context: the oldest turns go, and the notice counts them with those the client kept back', async () => {
    const messages = [];
    for (let i = 0; i < 12; i++) {
      messages.push({ role: 'user', content: `Question ${i}: ${'how does this loop work and why is it slow '.repeat(4)}` });
      messages.push({ role: 'assistant', content: `Answer ${i}: ${'it walks the list once per item, so it is quadratic '.repeat(4)}` });
    }
    messages.push({ role: 'user', content: 'And the last one?' });
    const r = await chat({ messages, earlierTurns: 6 });
    const sent = srv.requests.at(-1)!.body.messages as { content: string }[];
    const dropped = messages.length - sent.length;
    assert.ok(dropped > 0 && dropped < messages.length, `some turns were dropped (${dropped})`);
    assert.equal(sent.at(-1)!.content, 'And the last one?');
    assert.deepEqual(r.omitted, { turns: dropped + 6, attachmentChars: 0 });
    assert.equal(r.notice, `Left out to fit the model's context of 512 tokens: the ${dropped + 6} oldest messages.`);
  });

  test('an attachment longer than the context is cut around its selection, and the notice says which lines were left out', async () => {
    const text = Array.from({ length: 60 }, (_, i) => `line_${i} = compute(line_${i - 1}) + ${i}`).join('\n');
    const selection = { startLine: 40, endLine: 41 };
    const r = await chat({ messages: [{ role: 'user', content: 'What does it do?' }], context: [{ fileName: 'big.py', languageId: 'python', text, selection }] });
    assert.equal(r.omitted!.turns, 0);
    const [cut] = r.omitted!.attachments!;
    assert.ok(cut!.keptFrom > 0 && cut!.keptFrom < 40 && cut!.keptTo > 42 && cut!.keptTo < 60, JSON.stringify(cut));
    assert.ok(Math.abs(40 - cut!.keptFrom - (cut!.keptTo - 42)) <= 1, 'as many lines above the selection as below');
    assert.deepEqual(cut!.selection, selection);
    assert.equal(r.omitted!.attachmentChars, cut!.chars);
    assert.equal(r.notice, `Left out to fit the model's context of 512 tokens: in big.py, ${cut!.keptFrom} lines above and ${60 - cut!.keptTo} lines below the selection.`);
    const system = (srv.requests.at(-1)!.body.messages as { content: string }[])[0]!.content;
    const kept = text.split('\n').slice(cut!.keptFrom, cut!.keptTo).join('\n');
    assert.ok(system.includes(`\`\`\`\n# … ${cut!.keptFrom} lines omitted above\n${kept}\n# … ${60 - cut!.keptTo} lines omitted below\n\`\`\``), `the selection with the lines around it: ${system}`);
  });
});
