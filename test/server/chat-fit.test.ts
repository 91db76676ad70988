/**
 * Chat requests fitted to the model's context (server/chat-fit.ts through server/generate.ts chat()):
 * the oldest turns go first, then attachments are cut to whole lines around their selection (else
 * their start is kept) to the largest piece that fits, the system prompt and the last question stay,
 * and the result says what was left out and which format the prompt used.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChatMessage, ChatRequest, CompletionBackend, CompletionResult, ModelInfo } from '../../engine/types';
import type { ChatAttachmentCut } from '../../protocol/index';
import { checkAttachments, fitChat } from '../../server/chat-fit';
import { chat, omittedNotice, type GenerateDeps } from '../../server/generate';

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

/** The attachment's body in a fitted system message: the marker lines' counts and the kept lines between them. */
function body(system: string): { above: number; kept: string[]; lineCut: number; below: number } {
  const inner = system.slice(system.indexOf('```\n') + 4, system.lastIndexOf('\n```')).split('\n');
  const count = (re: RegExp, line: string | undefined) => Number(re.exec(line ?? '')?.[1] ?? 0);
  const ABOVE = /^\/\/ … (\d+) lines? omitted above$/;
  const BELOW = /^\/\/ … (\d+) lines? omitted below$/;
  const CUT = /^\/\/ … the rest of this line \((\d+) characters\) omitted$/;
  const above = count(ABOVE, inner[0]);
  if (ABOVE.test(inner[0]!)) inner.shift();
  const below = count(BELOW, inner.at(-1));
  if (BELOW.test(inner.at(-1)!)) inner.pop();
  const lineCut = count(CUT, inner.at(-1));
  if (CUT.test(inner.at(-1)!)) inner.pop();
  return { above, kept: inner, lineCut, below };
}

const LINES = FILE.split('\n');
const bigTs = (extra: object = {}) => ({ fileName: 'big.ts', languageId: 'typescript', text: FILE, ...extra });

test('an attachment with a selection: the selected lines whole, with as many lines above as below them; markers say what was left out', async () => {
  // Lines 300-304: a middle cut of the file would not keep them.
  const f = await fitChat({ system: 'You help.', attachments: [bigTs({ selection: { startLine: 300, endLine: 304 } })], turns: conversation(3), budget: 600, measure });
  assert.ok(f.promptTokens <= 600 && (await measure(f.messages)) <= 600);
  assert.equal(f.omitted.turns, 6, 'every earlier exchange went first');
  const system = f.messages[0]!;
  assert.equal(system.role, 'system');
  assert.ok(system.content.startsWith('You help. The user attached:\n\nbig.ts (typescript):\n```\n// … '), system.content.slice(0, 80));
  const b = body(system.content);
  assert.deepEqual(b.kept, LINES.slice(b.above, b.above + b.kept.length), 'one piece of the file, whole lines, where the markers say');
  assert.equal(b.above + b.kept.length + b.below, 400);
  assert.equal(b.lineCut, 0);
  assert.ok(b.above <= 300 && b.above + b.kept.length >= 305, `the selection is kept whole (lines ${b.above}-${b.above + b.kept.length - 1})`);
  const before = 300 - b.above;
  const after = b.above + b.kept.length - 305;
  assert.ok(before > 20 && Math.abs(before - after) <= 1, `balanced context: ${before} lines above, ${after} below`);
  assert.ok(f.promptTokens > 600 - 12, `the room is used: ${f.promptTokens} of 600 tokens`);
  const keptChars = b.kept.join('\n').length;
  assert.equal(f.omitted.attachmentChars, FILE.length - keptChars);
  assert.deepEqual(f.omitted.attachments, [
    { fileName: 'big.ts', lines: 400, keptFrom: b.above, keptTo: b.above + b.kept.length, chars: FILE.length - keptChars, selection: { startLine: 300, endLine: 304 } },
  ]);
  assert.deepEqual(f.messages.slice(1), [{ role: 'user', content: 'the last question?' }]);
});

test('a selection near an end: the context it cannot have on one side goes to the other', async () => {
  const f = await fitChat({ system: 'You help.', attachments: [bigTs({ selection: { startLine: 3, endLine: 3 } })], turns: [{ role: 'user', content: 'why?' }], budget: 400, measure });
  const b = body(f.messages[0]!.content);
  assert.equal(b.above, 0, 'the three lines above the selection fit');
  assert.deepEqual(b.kept, LINES.slice(0, b.kept.length));
  assert.ok(b.kept.length > 50 && b.below === 400 - b.kept.length, `${b.kept.length} lines kept`);
  assert.ok(f.promptTokens <= 400 && f.promptTokens > 400 - 12);
});

test('an attachment without a selection keeps its start (imports, signatures), not its middle', async () => {
  const f = await fitChat({ system: 'You help.', attachments: [bigTs()], turns: [{ role: 'user', content: 'why?' }], budget: 300, measure });
  const system = f.messages[0]!.content;
  assert.ok(system.startsWith('You help. The user attached:\n\nbig.ts (typescript):\n```\nconst line0 = 0;\n'), system.slice(0, 80));
  const b = body(system);
  assert.equal(b.above, 0);
  assert.deepEqual(b.kept, LINES.slice(0, b.kept.length));
  assert.equal(b.below, 400 - b.kept.length);
  assert.ok(system.endsWith(`\n// … ${b.below} lines omitted below\n\`\`\``));
  assert.ok(f.promptTokens <= 300 && f.promptTokens > 300 - 12, `${f.promptTokens} of 300 tokens`);
  assert.deepEqual(f.omitted.attachments, [{ fileName: 'big.ts', lines: 400, keptFrom: 0, keptTo: b.kept.length, chars: FILE.length - b.kept.join('\n').length }]);
});

test('a selection longer than the room: its first lines are kept, from where it starts', async () => {
  const f = await fitChat({ system: 'You help.', attachments: [bigTs({ selection: { startLine: 100, endLine: 349 } })], turns: [{ role: 'user', content: 'why?' }], budget: 300, measure });
  const b = body(f.messages[0]!.content);
  assert.equal(b.above, 100);
  assert.deepEqual(b.kept, LINES.slice(100, 100 + b.kept.length));
  assert.ok(b.kept.length > 30 && b.kept.length < 250, `${b.kept.length} lines of the selection kept`);
  assert.ok(f.promptTokens <= 300 && f.promptTokens > 300 - 12);
});

/** 13.7K characters of code, lines of about 40 characters. */
const LONG = Array.from({ length: 380 }, (_, i) => `  total = total + weights[${String(i).padStart(3, '0')}] * x;`).join('\n');

test('most of an attachment must go: the cut converges on the largest piece that fits, never on nothing', async () => {
  assert.ok(LONG.length > 13_600 && LONG.length < 13_800, `${LONG.length}`);
  // A 512-token model with 256 tokens kept for the answer.
  const budget = 255;
  const f = await fitChat({ system: 'You are a helpful coding assistant.', attachments: [{ fileName: 'sum.py', languageId: 'python', text: LONG }], turns: [{ role: 'user', content: 'What does this do?' }], budget, measure });
  assert.ok(f.promptTokens <= budget && (await measure(f.messages)) <= budget);
  assert.equal(f.messages[0]!.role, 'system', 'the attachment is still there');
  const system = f.messages[0]!.content;
  const kept = system.slice(system.indexOf('```\n') + 4, system.indexOf('\n# … '));
  assert.ok(LONG.startsWith(kept + '\n'), 'whole lines from the start');
  assert.ok(kept.length > 500, `${kept.length} characters kept`);
  assert.ok(f.promptTokens > budget - 14, `the room is used: ${f.promptTokens} of ${budget} tokens`);
  assert.equal(f.omitted.attachmentChars, LONG.length - kept.length);
});

test('the cut converges whatever the characters per token (a tokenizer far from the estimate)', async () => {
  // Code at 1.5 characters a token, prose at 4: a ratio measured on the whole prompt is far off.
  const dense = async (messages: ChatMessage[]) => {
    let n = 0;
    for (const m of messages) {
      const code = (m.content.match(/total = total/g) ?? []).length * 40;
      n += Math.ceil(code / 1.5 + (m.content.length - code) / 4) + 4;
    }
    return n;
  };
  for (const budget of [150, 255, 700, 2000]) {
    const f = await fitChat({ system: 'You help.', attachments: [{ fileName: 'sum.py', languageId: 'python', text: LONG }], turns: [{ role: 'user', content: 'What?' }], budget, measure: dense });
    assert.ok(f.promptTokens <= budget, `${f.promptTokens} > ${budget}`);
    assert.ok(f.promptTokens > budget - 32, `budget ${budget}: only ${f.promptTokens} tokens used`);
    assert.ok(f.omitted.attachmentChars < LONG.length, `budget ${budget}: something of the attachment is kept`);
  }
});

test('one very long line (minified code): its start is kept, cut inside the line', async () => {
  const min = 'var a=function(b){return b*2};'.repeat(600);
  const f = await fitChat({ system: 'You help.', attachments: [{ fileName: 'app.min.js', languageId: 'javascript', text: min }], turns: [{ role: 'user', content: 'why?' }], budget: 300, measure });
  const b = body(f.messages[0]!.content);
  assert.equal(b.kept.length, 1);
  assert.ok(min.startsWith(b.kept[0]!) && b.kept[0]!.length > 600, `${b.kept[0]!.length} characters kept`);
  assert.equal(b.lineCut, min.length - b.kept[0]!.length);
  assert.ok(f.promptTokens <= 300 && f.promptTokens > 300 - 12);
  assert.deepEqual(f.omitted.attachments, [{ fileName: 'app.min.js', lines: 1, keptFrom: 0, keptTo: 1, lineCut: b.lineCut, chars: b.lineCut }]);
});

test('several attachments: the short one is kept whole, the long one cut to the room left', async () => {
  const small = 'def helper():\n    return 1';
  const f = await fitChat({
    system: 'You help.',
    attachments: [bigTs({ selection: { startLine: 200, endLine: 200 } }), { fileName: 'helper.py', languageId: 'python', text: small }],
    turns: [{ role: 'user', content: 'why?' }],
    budget: 400,
    measure,
  });
  const system = f.messages[0]!.content;
  assert.ok(system.endsWith(`helper.py (python):\n\`\`\`\n${small}\n\`\`\``), system.slice(-80));
  assert.deepEqual(f.omitted.attachments!.map((a) => a.fileName), ['big.ts']);
  assert.ok(system.includes('function selected()'));
  assert.ok(f.promptTokens <= 400 && f.promptTokens > 400 - 12);
});

test('a selection outside its text is refused, naming the field', () => {
  assert.throws(() => checkAttachments([{ text: 'a\nb', selection: { startLine: 1, endLine: 2 } }]), /context\[0\]\.selection: lines 1-2 are not in the text \(2 lines\)/);
  assert.throws(() => checkAttachments([{ text: 'a', selection: { startLine: 0.5, endLine: 0 } as never }]), /context\[0\]\.selection/);
  assert.doesNotThrow(() => checkAttachments([{ text: 'a\nb', selection: { startLine: 1, endLine: 1 } }, { text: 'c' }]));
});

test('the notice says what was left out: the oldest messages, lines above and below the selection, the end of a file', () => {
  const cut = (o: Partial<ChatAttachmentCut>): ChatAttachmentCut => ({ fileName: 'big.ts', lines: 400, keptFrom: 0, keptTo: 400, chars: 1, ...o });
  const notice = (attachments: ChatAttachmentCut[], turns = 0) => omittedNotice({ turns, attachmentChars: 1, attachments }, 512);
  assert.equal(
    notice([cut({ keptFrom: 150, keptTo: 260, selection: { startLine: 200, endLine: 209 } })], 4),
    "Left out to fit the model's context of 512 tokens: the 4 oldest messages; in big.ts, 150 lines above and 140 lines below the selection.",
  );
  assert.equal(notice([cut({ keptFrom: 0, keptTo: 120 })]), "Left out to fit the model's context of 512 tokens: in big.ts, the last 280 lines.");
  assert.equal(
    notice([cut({ keptFrom: 0, keptTo: 399, selection: { startLine: 3, endLine: 3 } })]),
    "Left out to fit the model's context of 512 tokens: in big.ts, 1 line below the selection.",
  );
  assert.equal(
    notice([cut({ keptFrom: 100, keptTo: 150, selection: { startLine: 100, endLine: 349 } })]),
    "Left out to fit the model's context of 512 tokens: in big.ts, 100 lines above the selection, the last 200 lines of the selection and 50 lines below the selection.",
  );
  assert.equal(
    notice([cut({ fileName: 'app.min.js', lines: 1, keptFrom: 0, keptTo: 1, lineCut: 17000 })]),
    "Left out to fit the model's context of 512 tokens: in app.min.js, the last 17000 characters of line 1.",
  );
  assert.equal(notice([cut({ keptFrom: 0, keptTo: 0 })], 1), "Left out to fit the model's context of 512 tokens: the oldest message; all of big.ts.");
  assert.equal(notice([cut({ fileName: undefined, keptFrom: 0, keptTo: 10, lines: 12 })]), "Left out to fit the model's context of 512 tokens: in the attachment, the last 2 lines.");
  assert.equal(omittedNotice({ turns: 0, attachmentChars: 0 }, 512), undefined);
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
  const r = await chat({ streamId: 's', messages, context: [{ fileName: 'big.ts', text: FILE, selection: { startLine: 300, endLine: 304 } }] }, d);
  assert.equal(r.content, 'Sure.');
  assert.equal(r.format, 'base');
  assert.equal(r.omitted!.turns, 20);
  assert.ok(r.omitted!.attachmentChars > 0 && r.omitted!.attachmentChars < FILE.length);
  const [cut] = r.omitted!.attachments!;
  assert.ok(cut!.keptFrom < 300 && cut!.keptTo > 305, JSON.stringify(cut));
  assert.equal(
    r.notice,
    `Left out to fit the model's context of 1024 tokens: the 20 oldest messages; in big.ts, ${cut!.keptFrom} lines above and ${400 - cut!.keptTo} lines below the selection.`,
  );
  assert.ok(seen.request!.messages[0]!.content.includes(`\n// … ${cut!.keptFrom} lines omitted above\n${LINES[cut!.keptFrom]}\n`), 'the comment of the language the file name says');
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
  await assert.rejects(
    chat({ streamId: 's', messages, context: [{ text: 'x', selection: { startLine: 0, endLine: 5 } }] }, d),
    (e: Error & { code?: string }) => e.code === 'bad_request' && /chat: context\[0\]\.selection: lines 0-5 are not in the text \(1 line\)/.test(e.message),
  );
});
