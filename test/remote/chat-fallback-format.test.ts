// When a remote server has no chat template for its model (vLLM refuses with 400, TGI with 422), the
// remote adapters render the chat themselves in the format the server's model id is recognised as
// (snippets/chat/formats.json `match`), the id the server reports on /v1/models (OpenAI-compatible)
// or /info (TGI), and stop where that format's next user turn starts. Against the scripted stand-in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteBackend } from '../../engine/remote/index';
import { DONE, json, sseHead, startScripted, tgiFinal, tgiInfo, tgiToken, vllmCompletionChunk, vllmError } from './scripted-server';

const fast = { connectTimeoutMs: 1000, firstTokenTimeoutMs: 2000, idleTimeoutMs: 2000, retryBaseMs: 20 };
const NO_TEMPLATE = 'As of transformers v4.44, default chat template is no longer allowed, so you must provide a chat template if the tokenizer does not define one.';
const question = [{ role: 'user' as const, content: 'Reverse a list?' }];

/** A vLLM serving `modelId` with no chat template; its completions answer `text`. */
async function vllmServing(modelId: string, text: string) {
  return startScripted((req, res) => {
    if (req.path === '/v1/models') return json(res, 200, { object: 'list', data: [{ id: modelId, object: 'model', owned_by: 'vllm', root: modelId, max_model_len: 2048 }] });
    if (req.path === '/v1/chat/completions') return json(res, 400, vllmError(NO_TEMPLATE, 400));
    if (req.path !== '/v1/completions') return json(res, 404, { detail: 'Not Found' });
    sseHead(res);
    res.write(vllmCompletionChunk(0, text));
    res.write(vllmCompletionChunk(0, '', 'stop'));
    res.end(DONE);
  });
}

test('OpenAI-compatible: the /v1/models id picks the format (Dolly-v2, RedPajama-INCITE-Chat); the prompt and stop sequences are that format\'s', async () => {
  const cases = [
    { id: 'databricks/dolly-v2-3b', format: 'dolly-v2', prompt: /^Below is an instruction that describes a task\. Write a response that appropriately completes the request\.\n\n### Instruction:\nReverse a list\?\n\n### Response:\n$/, stop: ['### End', '\n### Instruction:'] },
    { id: 'togethercomputer/RedPajama-INCITE-Chat-3B-v1', format: 'redpajama-chat', prompt: /^<human>: Reverse a list\?\n<bot>:$/, stop: ['\n<human>:'] },
  ];
  for (const c of cases) {
    const srv = await vllmServing(c.id, ' Use reversed().');
    const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
    const r = await b.chat({ messages: question, maxTokens: 16 }, () => {});
    assert.equal(r.chatFormat, c.format, c.id);
    assert.equal(r.choices[0]!.text, ' Use reversed().');
    const sent = srv.requests.find((x) => x.path === '/v1/completions')!;
    assert.equal(sent.body.model, c.id);
    assert.match(String(sent.body.prompt), c.prompt, c.id);
    assert.deepEqual(sent.body.stop, c.stop, c.id);
    await b.dispose();
    await srv.close();
  }
});

test('OpenAI-compatible: a model id no format matches gets the default format; a format named in the request still wins', async () => {
  const srv = await vllmServing('acme/house-model-1b', ' Sure.');
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
  assert.equal((await b.chat({ messages: question, maxTokens: 8 }, () => {})).chatFormat, 'neoxt-chat');
  const named = await b.chat({ messages: question, maxTokens: 8, format: 'redpajama-instruct' }, () => {});
  assert.equal(named.chatFormat, 'redpajama-instruct');
  assert.equal(srv.requests.filter((x) => x.path === '/v1/completions').at(-1)!.body.prompt, 'Q: Reverse a list?\nA:');
  await b.dispose();
  await srv.close();
});

test('TGI: the /info model_id picks the format (StableLM-Tuned-Alpha), sent over /generate_stream with its stop sequences', async () => {
  const modelId = 'stabilityai/stablelm-tuned-alpha-7b';
  const srv = await startScripted((req, res) => {
    if (req.path === '/info') return json(res, 200, { ...(tgiInfo() as object), model_id: modelId });
    if (req.path === '/v1/chat/completions') return json(res, 422, { error: 'Template error: template not found', error_type: 'template_error' });
    if (req.path !== '/generate_stream') return json(res, 404, { error: 'not found' });
    sseHead(res);
    res.write(tgiToken(1, 1, ' Use reversed().'));
    res.end(tgiFinal(2, 2, '', ' Use reversed().', 'eos_token', 2));
  });
  const b = createRemoteBackend({ kind: 'tgi', url: srv.url, ...fast });
  const r = await b.chat({ messages: question, maxTokens: 16 }, () => {});
  assert.equal(r.chatFormat, 'stablelm-tuned-alpha');
  assert.equal(r.choices[0]!.text, ' Use reversed().');
  const sent = srv.requests.find((x) => x.path === '/generate_stream')!;
  assert.match(String(sent.body.inputs), /^<\|SYSTEM\|># StableLM Tuned \(Alpha version\)[\s\S]*<\|USER\|>Reverse a list\?<\|ASSISTANT\|>$/);
  assert.deepEqual(sent.body.parameters.stop, ['<|USER|>', '<|SYSTEM|>', '<|ASSISTANT|>']);
  await b.dispose();
  await srv.close();
});
