// A prompt is tokenized once: the prompt builder encodes the prompt as sent with the backend's
// tokenizer and keeps the ids; the server passes them as promptIds; the local engine generates from
// them exactly as from the text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompletionService, type CompletionSettings } from '../../server/completion-service';
import { Statistics } from '../../server/stats';
import { createLocalBackend } from '../../engine/local/local-backend';
import { loadTokenizer } from '../../engine/local/tokenizer';
import type { CompletionBackend, CompletionRequest } from '../../engine/types';
import { ScriptedRunner, noisyFn } from '../engine/helpers/scripted-runner';

const MODEL = 'models/neox-code-23m';
const tok = await loadTokenizer(MODEL);
const SETTINGS: CompletionSettings = { maxTokens: 16, temperature: 0, contextBudget: 1024, candidates: 1, maxLines: 12, crossFileContext: true, debounceMs: 0 };

/** A backend with the real tokenizer that records every text it counts or encodes, and every request. */
function recordingBackend() {
  const counted: string[] = [];
  const encoded: string[] = [];
  const requests: CompletionRequest[] = [];
  const backend: CompletionBackend = {
    load: async () => ({ id: 'fake', backend: 'local', contextLength: 2048, serializesGenerations: true, canEmbed: false }),
    async complete(req) {
      requests.push(req);
      return { choices: [{ index: 0, text: '\n    return a + b\n', finishReason: 'stop' }], usage: { promptTokens: 0, completionTokens: 0 } };
    },
    chat: async () => ({ choices: [], usage: { promptTokens: 0, completionTokens: 0 } }),
    countTokens: async (t) => (counted.push(t), tok.encode(t).length),
    tokenize: async (t) => (encoded.push(t), tok.encode(t)),
    health: async () => ({ ok: true }),
    dispose: async () => undefined,
  };
  return { backend, counted, encoded, requests };
}

test('a completion through the server encodes the document once, and sends those ids', async () => {
  const { backend, counted, encoded, requests } = recordingBackend();
  const svc = new CompletionService({
    ready: async () => ({ backend, info: await backend.load() }),
    countTokens: (t) => backend.countTokens(t),
    settings: () => SETTINGS,
    stats: new Statistics(),
  });
  const text = 'import math\n\n\ndef area(r):\n    return math.pi * r * r\n\n\ndef add(a, b):';
  const answer = await svc.complete({ uri: 'file:///a.py', path: 'a.py', languageId: 'python', text, offset: text.length, invoked: true });
  assert.deepEqual(answer.texts, ['\n    return a + b']);
  assert.equal(requests.length, 1);
  const req = requests[0]!;
  const withDocument = (texts: string[]) => texts.filter((t) => t.includes('def add(a, b):'));
  assert.deepEqual(withDocument(encoded), [req.prompt], 'the prompt as sent is encoded exactly once');
  assert.deepEqual(withDocument(counted), [], 'and the document is not counted apart');
  assert.deepEqual(req.promptIds, tok.encode(req.prompt), 'the engine gets the ids of the prompt it is sent');
  assert.equal(answer.promptTokens, req.promptIds!.length);
});

test('the local engine given promptIds generates the same tokens as given the text, and uses the ids', async () => {
  const backend = createLocalBackend({ modelDir: MODEL, quant: 'fp32', loadRunner: async () => new ScriptedRunner(noisyFn()) });
  const run = (req: CompletionRequest) => backend.complete(req).then((r) => r.choices[0]!.tokenIds);
  const prompt = 'def fibonacci(n):\n    ';
  const other = 'class Stack:\n    def push(self, x):';
  const fromText = await run({ prompt, maxTokens: 12 });
  assert.equal(fromText!.length, 12);
  assert.deepEqual(await run({ prompt, promptIds: tok.encode(prompt), maxTokens: 12 }), fromText);
  // Ids of another text win over the text: the prompt is not encoded again.
  assert.deepEqual(await run({ prompt, promptIds: tok.encode(other), maxTokens: 12 }), await run({ prompt: other, maxTokens: 12 }));
  await backend.dispose();
});
