// Remote adapters where a server refuses a feature, against a scripted loopback server replaying
// llama.cpp's server (b4700-era wire format, as measured against ../shared/peer's llama-server):
// n > 1 refused with 500 "Only one completion choice is allowed" becomes parallel single requests,
// remembered for that server; chat is rendered by the server or here (remoteChatTemplate).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinChatTemplate } from '../../engine/chat-template';
import { createRemoteBackend } from '../../engine/remote/index';
import { NeoxError, type TextChunk } from '../../engine/types';
import { DONE, json, sseHead, startScripted, vllmChatChunk, vllmCompletionChunk, vllmError, vllmModels, type Recorded, type Script } from './scripted-server';
import type { ServerResponse } from 'node:http';

const fast = { connectTimeoutMs: 1000, firstTokenTimeoutMs: 2000, idleTimeoutMs: 2000, retryBaseMs: 20 };
const LLAMA_MODEL = '.cache/gguf/neox-code-23m-F32.gguf';

/** llama.cpp's server reports this for a model whose GGUF has no chat template. */
const STOCK_CHATML =
  "{%- for message in messages -%}\n  {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' -}}\n{%- endfor -%}\n{%- if add_generation_prompt -%}\n  {{- '<|im_start|>assistant\n' -}}\n{%- endif -%}";

function llamaChunk(text: string, finish: string | null = null): string {
  return `data: ${JSON.stringify({ choices: [{ text, index: 0, logprobs: null, finish_reason: finish }], created: 1, model: 'gpt-3.5-turbo', object: 'text_completion', id: 'chatcmpl-x' })}\n\n`;
}

/** One llama-server completion: the text says which seed it was asked with. */
function llamaAnswer(req: Recorded, res: ServerResponse): void {
  const text = ` seed=${req.body.seed ?? 'none'}`;
  if (!req.body.stream) {
    return json(res, 200, { choices: [{ text, index: 0, logprobs: null, finish_reason: 'length' }], usage: { completion_tokens: 2, prompt_tokens: 4, total_tokens: 6 } });
  }
  sseHead(res);
  res.write(llamaChunk(text));
  res.write(llamaChunk('', 'length'));
  res.end(DONE);
}

/** A llama.cpp server: /v1/models with meta, /props with `chatTemplate`, n > 1 refused. */
function llama(gen: Script = llamaAnswer, chatTemplate = STOCK_CHATML): Script {
  return (req, res, raw) => {
    if (req.path === '/v1/models') {
      return json(res, 200, { object: 'list', data: [{ id: LLAMA_MODEL, object: 'model', owned_by: 'llamacpp', meta: { n_ctx_train: 2048, n_vocab: 50304 } }] });
    }
    if (req.path === '/props') return json(res, 200, { total_slots: 1, model_path: LLAMA_MODEL, chat_template: chatTemplate, bos_token: '<|endoftext|>' });
    if ((req.body?.n ?? 1) > 1) return json(res, 500, { error: { code: 500, message: 'Only one completion choice is allowed', type: 'server_error' } });
    return gen(req, res, raw);
  };
}

const withN = (srv: { requests: Recorded[] }) => srv.requests.filter((r) => (r.body?.n ?? 1) > 1);

test('n=2 refused by llama-server: two single requests seeded seed and seed+1, streamed under their index, remembered', async (t) => {
  const srv = await startScripted(llama());
  t.after(() => srv.close());
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
  t.after(() => b.dispose());
  const chunks: TextChunk[] = [];
  const r = await b.complete({ prompt: 'def fib(n):', maxTokens: 4, n: 2, seed: 5, temperature: 0.8 }, (c) => chunks.push(c));
  assert.deepEqual(r.choices.map((c) => [c.index, c.text, c.finishReason]), [
    [0, ' seed=5', 'length'],
    [1, ' seed=6', 'length'],
  ]);
  assert.deepEqual(chunks.map((c) => `${c.index}:${c.text}`).sort(), ['0: seed=5', '1: seed=6']);
  assert.equal(withN(srv).length, 1, 'the refused n=2 request');
  const singles = srv.requests.filter((x) => x.path === '/v1/completions' && x.body.n === undefined);
  assert.equal(singles.length, 2);
  assert.ok(singles.every((x) => x.body.prompt === 'def fib(n):' && x.body.max_tokens === 4 && x.body.stream === true));

  // Remembered: the next n=3 request (non-streaming this time) goes straight to single requests.
  const before = srv.requests.length;
  const r2 = await b.complete({ prompt: 'x', maxTokens: 2, n: 3 });
  assert.deepEqual(r2.choices.map((c) => c.text), [' seed=none', ' seed=none', ' seed=none']);
  assert.equal(r2.usage.completionTokens, 6);
  assert.equal(srv.requests.length - before, 3);
  assert.equal(withN(srv).length, 1, 'no second request with n > 1');
});

test('n=2 chat against llama-server falls back the same way', async (t) => {
  const srv = await startScripted(
    llama((req, res) => {
      sseHead(res);
  t.after(() => srv.close());
      res.write(vllmChatChunk(0, { content: `hello ${req.body.seed}` }));
      res.write(vllmChatChunk(0, {}, 'stop'));
      res.end(DONE);
    }, '{{ messages[0].content }}'),
  );
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
  t.after(() => b.dispose());
  const r = await b.chat({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 4, n: 2, seed: 1 }, () => {});
  assert.deepEqual(r.choices.map((c) => c.text), ['hello 1', 'hello 2']);
  assert.equal(r.chatFormat, 'server');
});

test('a refused single request cancels its sibling (its socket is closed) and the call fails with the message', async (t) => {
  const srv = await startScripted(
    llama((req, res) => {
      if (req.body.seed === 0) return json(res, 400, { error: { code: 400, message: 'the prompt is too long for choice 0', type: 'invalid_request_error' } });
  t.after(() => srv.close());
      sseHead(res);
      res.write(llamaChunk(' forever'));
      // never ends: only the client going away ends it
    }),
  );
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
  t.after(() => b.dispose());
  const e = await b.complete({ prompt: 'x', maxTokens: 4, n: 2, seed: 0, temperature: 1 }, () => {}).then(
    () => assert.fail('expected a failure'),
    (x: unknown) => x,
  );
  assert.ok(e instanceof NeoxError && /too long for choice 0/.test(e.message), String(e));
  await srv.clientClosed;
});

test('other errors with n=2 are not taken for a refusal of n', async (t) => {
  const srv = await startScripted((req, res) => {
    if (req.path === '/v1/models') return json(res, 200, vllmModels());
  t.after(() => srv.close());
    return json(res, 500, vllmError('CUDA out of memory', 500));
  });
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
  t.after(() => b.dispose());
  await assert.rejects(b.complete({ prompt: 'x', maxTokens: 4, n: 2 }), /CUDA out of memory/);
  assert.equal(srv.requests.filter((x) => x.path === '/v1/completions').length, 1);
});

test("chat 'auto' against llama-server with its stock ChatML: rendered here in the model's format, sent to /v1/completions", async (t) => {
  const srv = await startScripted(llama());
  t.after(() => srv.close());
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
  t.after(() => b.dispose());
  const messages = [{ role: 'user' as const, content: 'Reverse a string in Python?' }];
  const r = await b.chat({ messages, maxTokens: 8 }, () => {});
  assert.notEqual(r.chatFormat, 'server');
  assert.equal(r.choices[0]!.text, ' seed=none');
  assert.equal(srv.requests.filter((x) => x.path === '/v1/chat/completions').length, 0);
  const sent = srv.requests.find((x) => x.path === '/v1/completions')!;
  const template = builtinChatTemplate(r.chatFormat as 'base');
  assert.equal(sent.body.prompt, template.render(messages));
  assert.doesNotMatch(sent.body.prompt, /<\|im_start\|>/);
  for (const s of template.stop) assert.ok(sent.body.stop.includes(s), `stop ${JSON.stringify(s)} sent`);
  // /props is asked once per server.
  await b.chat({ messages, maxTokens: 8 }, () => {});
  assert.equal(srv.requests.filter((x) => x.path === '/props').length, 1);
});

test("chat 'auto' against llama-server with the model's own template: the server's chat route", async (t) => {
  const own = "{% for m in messages %}<|user|>{{ m.content }}{% endfor %}<|assistant|>";
  const srv = await startScripted(
    llama((_req, res) => {
      sseHead(res);
  t.after(() => srv.close());
      res.write(vllmChatChunk(0, { content: 'Use s[::-1].' }, 'stop'));
      res.end(DONE);
    }, own),
  );
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
  t.after(() => b.dispose());
  const r = await b.chat({ messages: [{ role: 'user', content: 'Reverse?' }], maxTokens: 8 }, () => {});
  assert.equal(r.chatFormat, 'server');
  assert.equal(r.choices[0]!.text, 'Use s[::-1].');
  assert.equal(srv.requests.filter((x) => x.path === '/v1/completions').length, 0);
});

test("chat 'server' uses llama-server's stock template anyway; 'local' renders here against vLLM without asking its chat route", async (t) => {
  const chatRoute: Script = (req, res) => {
    sseHead(res);
    if (req.path === '/v1/chat/completions') res.write(vllmChatChunk(0, { content: 'from chat route' }, 'stop'));
    else res.write(vllmCompletionChunk(0, 'from completions', 'stop'));
    res.end(DONE);
  };
  const llamaSrv = await startScripted(llama(chatRoute));
  t.after(() => llamaSrv.close());
  const a = createRemoteBackend({ kind: 'openai', url: llamaSrv.url, chatTemplate: 'server', ...fast });
  t.after(() => a.dispose());
  assert.equal((await a.chat({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 4 }, () => {})).choices[0]!.text, 'from chat route');
  assert.equal(llamaSrv.requests.filter((x) => x.path === '/props').length, 0);

  const vllmSrv = await startScripted((req, res, raw) => (req.path === '/v1/models' ? json(res, 200, vllmModels()) : chatRoute(req, res, raw)));

  t.after(() => vllmSrv.close());
  const l = createRemoteBackend({ kind: 'openai', url: vllmSrv.url, chatTemplate: 'local', ...fast });
  t.after(() => l.dispose());
  const r = await l.chat({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 4 }, () => {});
  assert.equal(r.choices[0]!.text, 'from completions');
  assert.notEqual(r.chatFormat, 'server');
  assert.deepEqual(vllmSrv.requests.map((x) => x.path), ['/v1/models', '/v1/completions']);
});

test("chat 'auto' against a server without /props (vLLM) asks its chat route", async (t) => {
  const srv = await startScripted((req, res) => {
    if (req.path === '/v1/models') return json(res, 200, vllmModels());
  t.after(() => srv.close());
    if (req.path === '/props') return json(res, 404, { detail: 'Not Found' });
    sseHead(res);
    res.write(vllmChatChunk(0, { content: 'ok' }, 'stop'));
    res.end(DONE);
  });
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
  t.after(() => b.dispose());
  const r = await b.chat({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 4 }, () => {});
  assert.equal(r.chatFormat, 'server');
  assert.deepEqual(srv.requests.map((x) => x.path), ['/v1/models', '/props', '/v1/chat/completions']);
});

test("TGI with chatTemplate 'local' renders chats here over /generate_stream", async (t) => {
  const srv = await startScripted((req, res) => {
    if (req.path === '/info') return json(res, 200, { model_id: 'EleutherAI/gpt-neox-20b', max_input_tokens: 1024, max_total_tokens: 2048, version: '2.4.1' });
  t.after(() => srv.close());
    sseHead(res);
    res.write(`data:${JSON.stringify({ index: 1, token: { id: 1, text: 'ok', special: false }, generated_text: 'ok', details: { finish_reason: 'eos_token', generated_tokens: 1 } })}\n\n`);
    res.end();
  });
  const b = createRemoteBackend({ kind: 'tgi', url: srv.url, chatTemplate: 'local', ...fast });
  t.after(() => b.dispose());
  const r = await b.chat({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 4 }, () => {});
  assert.equal(r.choices[0]!.text, 'ok');
  assert.notEqual(r.chatFormat, 'server');
  assert.deepEqual(srv.requests.map((x) => x.path), ['/info', '/generate_stream']);
});

test('an unknown remoteChatTemplate value fails at creation, naming the setting', () => {
  assert.throws(
    () => createRemoteBackend({ kind: 'openai', url: 'http://127.0.0.1:9', chatTemplate: 'mine' as 'auto' }),
    (e: Error) => e instanceof NeoxError && e.message.includes('neoxComplete.remoteChatTemplate') && e.message.includes('"mine"'),
  );
});
