/**
 * Chat prompt formats (engine/chat-template.ts, snippets/chat/): each built-in format and a checkpoint's
 * jinja chat_template render a 3-turn conversation to the exact prompt the model was tuned on; a
 * checkpoint is recognised by its names and tokens; each format's stop sequences end the model's turn
 * where it starts writing the user's next one (the local engine on a scripted runner).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, copyFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinChatTemplate, builtinFormats, chatTemplateFor, localCheckpointFacts, recogniseChatFormat } from '../../engine/chat-template';
import { createLocalBackend } from '../../engine/local/local-backend';
import { loadTokenizer } from '../../engine/local/tokenizer';
import { CHAT_FORMATS, type ChatFormat, type ChatMessage } from '../../engine/types';
import { ScriptedRunner, scriptFn } from './helpers/scripted-runner';

const MODEL = 'models/neox-code-23m';

/** Three turns: a question, its answer, the next question (after a system message). */
const conversation: ChatMessage[] = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Hi' },
  { role: 'assistant', content: 'Hello!' },
  { role: 'user', content: 'Sum a list?' },
];

const STABLELM_SYSTEM =
  '<|SYSTEM|># StableLM Tuned (Alpha version)\n' +
  '- StableLM is a helpful and harmless open-source AI language model developed by StabilityAI.\n' +
  '- StableLM is excited to be able to help the user, but will refuse to do anything that could be considered harmful to the user.\n' +
  '- StableLM is more than just an information source, StableLM is also able to write poetry, short stories, and make jokes.\n' +
  '- StableLM will refuse to participate in anything that could harm a human.\n';

const BASE_FRAME =
  'A conversation between a programmer (User) and a helpful, knowledgeable coding assistant (Assistant). The Assistant answers correctly and concisely, with code in Markdown code blocks.\n\n' +
  'User: How do I reverse a list in Python?\n' +
  'Assistant: Use slicing, which returns a reversed copy:\n```python\nitems[::-1]\n```\nor call `items.reverse()` to reverse the list in place.\n\n' +
  'User: What does `git stash` do?\n' +
  'Assistant: It saves your uncommitted changes and resets the working tree to the last commit; `git stash pop` brings the changes back.\n\n';

const expected: Record<Exclude<ChatFormat, 'checkpoint'>, string> = {
  'neoxt-chat': 'Be brief.\n<human>: Hi\n<bot>: Hello!\n<human>: Sum a list?\n<bot>:',
  'redpajama-chat': 'Be brief.\n<human>: Hi\n<bot>: Hello!\n<human>: Sum a list?\n<bot>:',
  'dolly-v2':
    'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n' +
    'Be brief.\n\n### Instruction:\nHi\n\n### Response:\nHello!\n\n### End\n\n### Instruction:\nSum a list?\n\n### Response:\n',
  'stablelm-tuned-alpha': STABLELM_SYSTEM + 'Be brief.\n<|USER|>Hi<|ASSISTANT|>Hello!<|USER|>Sum a list?<|ASSISTANT|>',
  'redpajama-instruct': 'Be brief.\n\nQ: Hi\nA: Hello!\n\nQ: Sum a list?\nA:',
  base: BASE_FRAME + 'Be brief.\n\nUser: Hi\nAssistant: Hello!\n\nUser: Sum a list?\nAssistant:',
};

for (const [name, prompt] of Object.entries(expected) as [Exclude<ChatFormat, 'checkpoint'>, string][]) {
  test(`${name}: a 3-turn conversation renders to the exact prompt`, () => {
    const t = builtinChatTemplate(name);
    assert.equal(t.name, name);
    assert.equal(t.render(conversation), prompt);
  });
}

test('formats.json describes every built-in format of CHAT_FORMATS, each with stop sequences', () => {
  const names = builtinFormats().formats.map((f) => f.name).sort();
  assert.deepEqual(names, CHAT_FORMATS.filter((f) => f !== 'checkpoint').sort());
  for (const f of builtinFormats().formats) assert.ok(f.stop.length > 0, `${f.name} has stop sequences`);
});

test("a checkpoint's jinja chat_template (with its bos token) renders the 3-turn conversation exactly, and comes first", () => {
  const chat_template =
    "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] | trim }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
  const facts = { names: ['databricks/dolly-v2-3b'], tokenizerConfig: { chat_template, bos_token: { content: '<|endoftext|>' } }, tokenizerConfigFile: 'x/tokenizer_config.json' };
  const t = chatTemplateFor(facts);
  assert.equal(t.name, 'checkpoint');
  assert.equal(
    t.render(conversation),
    '<|endoftext|><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nSum a list?<|im_end|>\n<|im_start|>assistant\n',
  );
  // a named format overrides the checkpoint's own template
  assert.equal(chatTemplateFor(facts, 'dolly-v2').render(conversation), expected['dolly-v2']);
  assert.equal(chatTemplateFor(facts, 'auto').name, 'checkpoint');
});

test('a checkpoint is recognised by config.json _name_or_path, its folder, its tokens; else the default', () => {
  const by = (names: string[], tokenizerConfig: Record<string, unknown> = {}) => recogniseChatFormat({ names, tokenizerConfig, tokenizerConfigFile: 't' });
  assert.equal(by(['togethercomputer/GPT-NeoXT-Chat-Base-20B']), 'neoxt-chat');
  assert.equal(by(['databricks/dolly-v2-12b']), 'dolly-v2');
  assert.equal(by(['stabilityai/stablelm-tuned-alpha-7b']), 'stablelm-tuned-alpha');
  assert.equal(by(['togethercomputer/RedPajama-INCITE-Chat-3B-v1']), 'redpajama-chat');
  assert.equal(by(['togethercomputer/RedPajama-INCITE-7B-Chat']), 'redpajama-chat');
  assert.equal(by(['togethercomputer/RedPajama-INCITE-Instruct-3B-v1']), 'redpajama-instruct');
  assert.equal(by(['EleutherAI/gpt-neox-20b']), 'base');
  assert.equal(by(['EleutherAI/pythia-1.4b-deduped']), 'base');
  assert.equal(by(['models--EleutherAI--pythia-410m/snapshots/abc123']), 'base');
  assert.equal(by(['my-model'], { added_tokens_decoder: { 50277: { content: '<|SYSTEM|>' }, 50278: { content: '<|USER|>' }, 50279: { content: '<|ASSISTANT|>' } } }), 'stablelm-tuned-alpha');
  assert.equal(by(['my-model']), builtinFormats().default);
  // the embedded model is a base model
  assert.equal(chatTemplateFor(localCheckpointFacts(MODEL, {})).name, 'base');
});

test('local checkpoint facts: config.json _name_or_path names the model whatever its folder is called', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'neox-fmt-')), 'weights');
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ _name_or_path: 'databricks/dolly-v2-3b' }));
  assert.equal(chatTemplateFor(localCheckpointFacts(dir, {})).name, 'dolly-v2');
});

test('a wrong format name, or "checkpoint" without a chat_template, is a clear error', () => {
  const facts = { names: [], tokenizerConfig: {}, tokenizerConfigFile: '/m/tokenizer_config.json' };
  assert.throws(() => chatTemplateFor(facts, 'alpaca'), /unknown chat format "alpaca"/);
  assert.throws(() => chatTemplateFor(facts, 'checkpoint'), /\/m\/tokenizer_config\.json has no chat_template/);
});

// Stop sequences: the scripted model answers, then goes on to write the user's next turn in the
// format's own words; the answer is cut where that turn starts.
const tok = await loadTokenizer(MODEL);
const nextTurn: Record<Exclude<ChatFormat, 'checkpoint'>, string> = {
  'neoxt-chat': '\n<human>: and now?',
  'redpajama-chat': '\n<human>: and now?',
  'dolly-v2': '\n\n### End\n\n### Instruction:\nand now?',
  'stablelm-tuned-alpha': '<|USER|>and now?',
  'redpajama-instruct': '\n\nQ: and now?',
  base: '\n\nUser: and now?',
};
for (const [name, more] of Object.entries(nextTurn) as [Exclude<ChatFormat, 'checkpoint'>, string][]) {
  test(`${name}: the answer ends where the model starts the user's next turn`, async () => {
    const answer = ' Use sum(xs).';
    const prompt = expected[name];
    const runner = new ScriptedRunner(scriptFn([{ prompt: tok.encode(prompt), script: tok.encode(answer + more) }]));
    const backend = createLocalBackend({ modelDir: MODEL, quant: 'fp32', loadRunner: async () => runner });
    const r = await backend.chat({ messages: conversation, format: name, maxTokens: 60 });
    assert.equal(r.choices[0]!.finishReason, 'stop');
    assert.equal(r.choices[0]!.text.trimEnd(), answer);
    assert.equal(r.chatFormat, name);
    await backend.dispose();
  });
}

test('local engine: without a format the checkpoint decides (the embedded model gets the base frame)', async () => {
  const runner = new ScriptedRunner(scriptFn([{ prompt: tok.encode(expected.base), script: tok.encode(' Use sum(xs).\n\nUser: next') }]));
  const backend = createLocalBackend({ modelDir: MODEL, quant: 'fp32', loadRunner: async () => runner });
  const r = await backend.chat({ messages: conversation, maxTokens: 60 });
  assert.equal(r.chatFormat, 'base');
  assert.equal(r.choices[0]!.text, ' Use sum(xs).\n');
  assert.equal((await backend.renderChat({ messages: conversation, maxTokens: 1 })).prompt, expected.base);
  await backend.dispose();
});

test('local engine: a checkpoint folder with a chat_template reports the format "checkpoint"', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'neox-fmt-'));
  for (const f of ['config.json', 'tokenizer.json']) copyFileSync(join(MODEL, f), join(dir, f));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ chat_template: '{% for m in messages %}{{ m.content }}\n{% endfor %}>' }));
  const runner = new ScriptedRunner(scriptFn([{ prompt: tok.encode('Hi\n>'), script: tok.encode(' yo') }]));
  const backend = createLocalBackend({ modelDir: dir, quant: 'fp32', loadRunner: async () => runner });
  const r = await backend.chat({ messages: [{ role: 'user', content: 'Hi' }], maxTokens: 5 });
  assert.equal(r.chatFormat, 'checkpoint');
  assert.equal(r.choices[0]!.text, ' yo');
  await backend.dispose();
});
