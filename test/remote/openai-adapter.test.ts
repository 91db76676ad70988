// The OpenAI-compatible adapter against a scripted loopback server replaying vLLM's wire format,
// including every failure mode the issue lists. Each case: a clear NeoxError naming the URL,
// or the right result; a failed request never resolves (so nothing is inserted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteBackend } from '../../engine/remote/index';
import { builtinChatTemplate } from '../../engine/chat-template';
import { NeoxError, type TextChunk } from '../../engine/types';
import { DONE, json, sleep, sseHead, startScripted, vllmChatChunk, vllmCompletionChunk, vllmError, vllmModels, vllmUsageChunk, VLLM_MODEL, type Script } from './scripted-server';

const fast = { connectTimeoutMs: 1000, firstTokenTimeoutMs: 2000, idleTimeoutMs: 2000, retryBaseMs: 20 };

/** A vLLM whose /v1/models is standard and whose generation routes run `gen`. */
function vllm(gen: Script, maxModelLen = 2048): Script {
  return (req, res, raw) => {
    if (req.path === '/v1/models') return json(res, 200, vllmModels(maxModelLen));
    // vLLM has no /props (llama.cpp's server describes its chat template there).
    if (req.path === '/props') return json(res, 404, { detail: 'Not Found' });
    return gen(req, res, raw);
  };
}

async function rejectsNeox(p: Promise<unknown>, code: string, ...mustMention: (string | RegExp)[]): Promise<NeoxError> {
  const e = await p.then(
    () => assert.fail('expected the request to fail'),
    (x: unknown) => x,
  );
  assert.ok(e instanceof NeoxError, `expected NeoxError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  for (const m of mustMention) assert.match(e.message, typeof m === 'string' ? new RegExp(m.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : m);
  return e;
}

test('vLLM streaming completion: text, chunks, usage, request fields, bearer key', async () => {
  const srv = await startScripted(
    vllm((_req, res) => {
      sseHead(res);
      res.write(vllmCompletionChunk(0, '\n    if'));
      res.write(vllmCompletionChunk(0, ' n < 2'));
      res.write(vllmCompletionChunk(0, ':', 'length'));
      res.write(vllmUsageChunk(5, 3));
      res.end(DONE);
    }),
  );
  const b = createRemoteBackend({ kind: 'openai', url: `${srv.url}/v1/`, model: VLLM_MODEL, apiKey: 'sk-team', ...fast });
  const info = await b.load();
  assert.equal(info.contextLength, 2048);
  assert.equal(info.id, VLLM_MODEL);
  const chunks: TextChunk[] = [];
  const r = await b.complete({ prompt: 'def fib(n):', maxTokens: 3, temperature: 0.2, topP: 0.9, topK: 40, stop: ['\n\n'], seed: 7 }, (c) => chunks.push(c));
  assert.equal(r.choices[0].text, '\n    if n < 2:');
  assert.equal(r.choices[0].finishReason, 'length');
  assert.deepEqual(r.usage, { promptTokens: 5, completionTokens: 3 });
  assert.deepEqual(chunks.map((c) => c.text), ['\n    if', ' n < 2', ':']);
  const sent = srv.requests.find((x) => x.path === '/v1/completions')!;
  assert.equal(sent.headers.authorization, 'Bearer sk-team');
  assert.deepEqual(sent.body, {
    model: VLLM_MODEL,
    prompt: 'def fib(n):',
    max_tokens: 3,
    temperature: 0.2,
    top_p: 0.9,
    top_k: 40,
    stop: ['\n\n'],
    seed: 7,
    stream: true,
    stream_options: { include_usage: true },
  });
  await b.dispose();
  await srv.close();
});

test('non-streaming completion with n=2: both choices, vLLM stop_reason tells EOS from a stop string', async () => {
  const srv = await startScripted(
    vllm((_req, res) =>
      json(res, 200, {
        id: 'cmpl-1',
        object: 'text_completion',
        created: 1,
        model: VLLM_MODEL,
        choices: [
          { index: 0, text: ' return 1', logprobs: null, finish_reason: 'stop', stop_reason: null },
          { index: 1, text: ' pass', logprobs: null, finish_reason: 'stop', stop_reason: '\n' },
        ],
        usage: { prompt_tokens: 4, total_tokens: 8, completion_tokens: 4 },
      }),
    ),
  );
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
  const r = await b.complete({ prompt: 'x', maxTokens: 8, n: 2, stop: ['\n'] });
  assert.deepEqual(
    r.choices.map((c) => [c.text, c.finishReason]),
    [
      [' return 1', 'eos'],
      [' pass', 'stop'],
    ],
  );
  const sent = srv.requests.find((x) => x.path === '/v1/completions')!;
  assert.equal(sent.body.n, 2);
  assert.equal(sent.body.stream, undefined);
  assert.equal(sent.body.model, VLLM_MODEL, 'without a model setting the first listed model is used');
  await b.dispose();
  await srv.close();
});

test('chat streaming: the role chunk carries no text, deltas are joined', async () => {
  const srv = await startScripted(
    vllm((req, res) => {
      assert.equal(req.path, '/v1/chat/completions');
      sseHead(res);
      res.write(vllmChatChunk(0, { role: 'assistant', content: '' }));
      res.write(vllmChatChunk(0, { content: 'Use ' }));
      res.write(vllmChatChunk(0, { content: '`map`.' }));
      res.write(vllmChatChunk(0, {}, 'stop'));
      res.end(DONE);
    }),
  );
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
  const chunks: string[] = [];
  const r = await b.chat({ messages: [{ role: 'user', content: 'How do I square a list?' }], maxTokens: 32 }, (c) => chunks.push(c.text));
  assert.equal(r.choices[0].text, 'Use `map`.');
  assert.equal(r.choices[0].finishReason, 'stop');
  assert.deepEqual(chunks, ['Use ', '`map`.']);
  assert.deepEqual(srv.requests.at(-1)!.body.messages, [{ role: 'user', content: 'How do I square a list?' }]);
  assert.ok(r.usage.completionTokens > 0, 'usage is counted locally when the server sends none');
  await b.dispose();
  await srv.close();
});

test('a model the server does not serve: the error lists what it serves', async () => {
  const srv = await startScripted(vllm(() => undefined));
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, model: 'pythia-12b', ...fast });
  await rejectsNeox(b.load(), 'model_not_found', 'pythia-12b', VLLM_MODEL, 'neoxComplete.remoteModel');
  await b.dispose();
  await srv.close();
});

test('connection refused names the URL', async () => {
  const srv = await startScripted(() => undefined);
  const port = srv.port;
  await srv.close();
  const b = createRemoteBackend({ kind: 'openai', url: `http://127.0.0.1:${port}`, ...fast });
  await rejectsNeox(b.complete({ prompt: 'x', maxTokens: 4 }), 'connection_refused', `http://127.0.0.1:${port}`);
  const h = await b.health();
  assert.equal(h.ok, false);
  assert.match(h.message!, /Connection refused/);
  await b.dispose();
});

test('500 carries the server message and is not retried', async () => {
  const srv = await startScripted(vllm((_req, res) => json(res, 500, vllmError('CUDA out of memory', 500))));
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
  await rejectsNeox(b.complete({ prompt: 'x', maxTokens: 4 }, () => {}), 'http_500', `${srv.url}/v1/completions`, 'CUDA out of memory');
  assert.equal(srv.requests.filter((r) => r.path === '/v1/completions').length, 1);
  await b.dispose();
  await srv.close();
});

test('400 (OpenAI error object) is not retried; 401 points at the API key command', async () => {
  let status = 400;
  const srv = await startScripted(
    vllm((_req, res) => json(res, status, { error: { message: status === 400 ? "max_tokens must be at least 1" : 'Unauthorized', type: 'invalid_request_error', code: status } })),
  );
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
  await rejectsNeox(b.complete({ prompt: 'x', maxTokens: 4 }), 'http_400', 'max_tokens must be at least 1');
  status = 401;
  await rejectsNeox(b.complete({ prompt: 'x', maxTokens: 4 }), 'unauthorized', 'Set API key');
  assert.equal(srv.requests.filter((r) => r.path === '/v1/completions').length, 2);
  await b.dispose();
  await srv.close();
});

test('429 then success: retried with backoff, honouring Retry-After', async () => {
  let calls = 0;
  const srv = await startScripted(
    vllm((_req, res) => {
      calls++;
      if (calls === 1) return json(res, 429, vllmError('Too many requests', 429), { 'retry-after': '1' });
      if (calls === 2) return json(res, 503, vllmError('Service unavailable', 503));
      sseHead(res);
      res.write(vllmCompletionChunk(0, 'ok', 'length'));
      res.end(DONE);
    }),
  );
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
  await b.load();
  const t0 = Date.now();
  const r = await b.complete({ prompt: 'x', maxTokens: 1 }, () => {});
  assert.equal(r.choices[0].text, 'ok');
  assert.equal(calls, 3);
  assert.ok(Date.now() - t0 >= 950, `Retry-After: 1 was honoured (${Date.now() - t0} ms)`);
  await b.dispose();
  await srv.close();
});

test('429 for ever: gives up after maxRetries with a clear error', async () => {
  const srv = await startScripted(vllm((_req, res) => json(res, 429, vllmError('Too many requests', 429))));
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast, maxRetries: 2 });
  await rejectsNeox(b.complete({ prompt: 'x', maxTokens: 1 }), 'rate_limited', '429', 'gave up after 2 retries');
  assert.equal(srv.requests.filter((r) => r.path === '/v1/completions').length, 3);
  await b.dispose();
  await srv.close();
});

test('a stream cut in the middle rejects (partial text is never a result)', async () => {
  const srv = await startScripted(
    vllm(async (_req, res) => {
      sseHead(res);
      res.write(vllmCompletionChunk(0, 'for i in'));
      res.write(vllmCompletionChunk(0, ' range('));
      await sleep(30);
      res.socket!.destroy();
    }),
  );
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
  const seen: string[] = [];
  await rejectsNeox(b.complete({ prompt: 'x', maxTokens: 16 }, (c) => seen.push(c.text)), 'stream_cut', `${srv.url}/v1/completions`);
  assert.deepEqual(seen, ['for i in', ' range(']);
  await b.dispose();
  await srv.close();
});

test('a stream that ends cleanly but without [DONE] or finish_reason is incomplete', async () => {
  const srv = await startScripted(
    vllm((_req, res) => {
      sseHead(res);
      res.end(vllmCompletionChunk(0, 'half'));
    }),
  );
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
  await rejectsNeox(b.complete({ prompt: 'x', maxTokens: 16 }, () => {}), 'stream_cut', '[DONE]');
  await b.dispose();
  await srv.close();
});

test('invalid JSON in an event is a malformed-stream error', async () => {
  const srv = await startScripted(
    vllm((_req, res) => {
      sseHead(res);
      res.write(vllmCompletionChunk(0, 'ok'));
      res.write('data: {"choices": [{"index": 0, "text": "x"\n\n');
      res.end(DONE);
    }),
  );
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
  await rejectsNeox(b.complete({ prompt: 'x', maxTokens: 16 }, () => {}), 'bad_stream', 'malformed stream data', '/v1/completions');
  await b.dispose();
  await srv.close();
});

test('a server URL with credentials: errors name the server without user or password', async () => {
  const srv = await startScripted(
    vllm((_req, res) => {
      sseHead(res);
      res.write('data: {"choices": [\n\n');
      res.end(DONE);
    }),
  );
  const url = srv.url.replace('http://', 'http://alice:s3cret@');
  const b = createRemoteBackend({ kind: 'openai', url, ...fast });
  try {
    const e = await b.complete({ prompt: 'x', maxTokens: 16 }, () => {}).then(
      () => assert.fail('a malformed stream was accepted'),
      (err: Error) => err,
    );
    assert.match(e.message, /malformed stream data/);
    assert.match(e.message, new RegExp(srv.url.replace('http://', '').replace(/[.]/g, '\\.')));
    assert.doesNotMatch(e.message, /alice|s3cret/);
  } finally {
    await b.dispose();
    await srv.close();
  }
});

test('an error event mid-stream (vLLM) rejects with the server message', async () => {
  const srv = await startScripted(
    vllm((_req, res) => {
      sseHead(res);
      res.write(vllmCompletionChunk(0, 'a'));
      res.write(`data: ${JSON.stringify({ error: { object: 'error', message: 'engine dead', type: 'InternalServerError', code: 500 } })}\n\n`);
      res.end(DONE);
    }),
  );
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
  await rejectsNeox(b.complete({ prompt: 'x', maxTokens: 16 }, () => {}), 'server_error', 'engine dead');
  await b.dispose();
  await srv.close();
});

test('events split across TCP chunks, even inside a UTF-8 character, are reassembled', async () => {
  const body = vllmCompletionChunk(0, 'print("héllo ✓")') + vllmCompletionChunk(0, ' # 完', 'length') + vllmUsageChunk(3, 2) + DONE;
  const bytes = Buffer.from(body, 'utf8');
  // Cut inside the first event's JSON, inside "✓" (3 bytes) and "完" (3 bytes), between the
  // "data:" of an event and its payload, and inside "[DONE]"; pauses make each a separate read.
  const at = (needle: string, plus: number) => bytes.indexOf(Buffer.from(needle, 'utf8')) + plus;
  const cuts = [20, at('✓', 1), at('完', 2), at('data: {"id":"cmpl-8d2e","object":"text_completion","created":1732600001,"model":"EleutherAI/gpt-neox-20b","choices":[]', 5), at('[DONE]', 3)];
  assert.ok(cuts.every((c, i) => c > (cuts[i - 1] ?? 0)), `cuts in order: ${cuts}`);
  const srv = await startScripted(
    vllm(async (_req, res) => {
      sseHead(res);
      res.socket!.setNoDelay(true);
      let from = 0;
      for (const c of [...cuts, bytes.length]) {
        res.write(bytes.subarray(from, c));
        from = c;
        await sleep(15);
      }
      res.end();
    }),
  );
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
  const seen: string[] = [];
  const r = await b.complete({ prompt: 'x', maxTokens: 2 }, (c) => seen.push(c.text));
  assert.equal(r.choices[0].text, 'print("héllo ✓") # 完');
  assert.deepEqual(seen, ['print("héllo ✓")', ' # 完'], 'whole events, never half a character');
  assert.deepEqual(r.usage, { promptTokens: 3, completionTokens: 2 });
  await b.dispose();
  await srv.close();
});

test('a server that never sends a first token times out', async () => {
  const srv = await startScripted(
    vllm((_req, res) => {
      sseHead(res); // headers, then silence
    }),
  );
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast, firstTokenTimeoutMs: 300 });
  await b.load();
  const t0 = Date.now();
  await rejectsNeox(b.complete({ prompt: 'x', maxTokens: 16 }, () => {}), 'first_token_timeout', '300 ms', `${srv.url}/v1/completions`);
  assert.ok(Date.now() - t0 < 2000);
  await srv.clientClosed; // the socket was closed, not left hanging
  await b.dispose();
  await srv.close();
});

test('a server that never answers at all (no headers) times out too, non-streaming', async () => {
  const srv = await startScripted(vllm(() => undefined));
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast, firstTokenTimeoutMs: 300 });
  await b.load();
  await rejectsNeox(b.complete({ prompt: 'x', maxTokens: 16 }), 'timeout', '300 ms');
  await b.dispose();
  await srv.close();
});

test('cancelling aborts the request and closes the socket; the result is "cancelled"', async () => {
  const srv = await startScripted(
    vllm(async (_req, res) => {
      sseHead(res);
      for (let i = 0; i < 200 && !res.destroyed; i++) {
        res.write(vllmCompletionChunk(0, `t${i} `));
        await sleep(10);
      }
      res.end(DONE);
    }),
  );
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
  const ac = new AbortController();
  let n = 0;
  const r = await b.complete({ prompt: 'x', maxTokens: 200, signal: ac.signal }, () => {
    if (++n === 3) ac.abort();
  });
  assert.equal(r.choices[0].finishReason, 'cancelled');
  assert.ok(r.choices[0].text.startsWith('t0 t1 t2'));
  await srv.clientClosed;
  await b.dispose();
  await srv.close();
});

test("the prompt budget follows the server's max_model_len", async () => {
  const srv = await startScripted(
    vllm((_req, res) => {
      sseHead(res);
      res.write(vllmCompletionChunk(0, 'y', 'length'));
      res.end(DONE);
    }, 64),
  );
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
  assert.equal((await b.load()).contextLength, 64);
  const prompt = 'x = 1\n'.repeat(10); // 40 tokens with the GPT-NeoX tokenizer
  const n = await b.countTokens(prompt);
  assert.equal(n, 40);
  await b.complete({ prompt, maxTokens: 100 }, () => {});
  assert.equal(srv.requests.at(-1)!.body.max_tokens, 64 - n, 'max_tokens is clamped to what the context leaves');
  await rejectsNeox(b.complete({ prompt: prompt.repeat(2), maxTokens: 8 }), 'prompt_too_long', '80 tokens', 'context is 64', 'max_model_len');
  await b.dispose();
  await srv.close();
});

test('health: ok with the model, then not ok once the server is gone', async () => {
  const srv = await startScripted(vllm(() => undefined));
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
  const ok = await b.health();
  assert.equal(ok.ok, true);
  assert.match(ok.message!, /gpt-neox-20b/);
  await srv.close();
  const down = await b.health();
  assert.equal(down.ok, false);
  await b.dispose();
});

test('bad settings fail at creation, naming the field', () => {
  assert.throws(() => createRemoteBackend({ kind: 'openai', url: 'gpu-box:8000' }), /neoxComplete.remoteUrl.*http/);
  assert.throws(() => createRemoteBackend({ kind: 'openai', url: 'not a url' }), /neoxComplete.remoteUrl/);
  assert.throws(() => createRemoteBackend({ kind: 'grpc' as 'openai', url: 'http://x' }), /unknown remote API kind/);
  assert.throws(() => createRemoteBackend({ kind: 'openai', url: 'http://x', connectTimeoutMs: -1 }), /connectTimeoutMs/);
});

test('a kept-alive connection the server dropped is resent once on a fresh one; a fresh one that drops is an error', async () => {
  const served = new WeakSet<object>();
  let dropped = 0;
  let dropAll = false;
  const srv = await startScripted((req, res, raw) => {
    const sock = raw.socket;
    if (dropAll || (served.has(sock) && dropped === 0)) {
      dropped++;
      return void sock.destroy(); // as if its keep-alive timeout fired just now
    }
    served.add(sock);
    if (req.path === '/v1/models') return json(res, 200, vllmModels());
    json(res, 200, { choices: [{ index: 0, text: 'fine', finish_reason: 'length' }] });
  });
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
  await b.load();
  const r = await b.complete({ prompt: 'x', maxTokens: 1 });
  assert.equal(r.choices[0].text, 'fine');
  assert.equal(dropped, 1);
  dropAll = true;
  await b.dispose(); // new pool: the next connection is fresh
  const c = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
  await rejectsNeox(c.load(), 'connection_reset', 'closed the connection before answering');
  await c.dispose();
  await srv.close();
});

test('chat with a base model vLLM has no template for: rendered in the format its model id is recognised as, run as a completion', async () => {
  const srv = await startScripted(
    vllm((req, res) => {
      if (req.path === '/v1/chat/completions') {
        // vLLM's answer for a tokenizer without chat_template (transformers >= 4.44).
        return json(res, 400, vllmError('As of transformers v4.44, default chat template is no longer allowed, so you must provide a chat template if the tokenizer does not define one.', 400));
      }
      sseHead(res);
      res.write(vllmCompletionChunk(0, ' Use slicing: s[::-1]'));
      res.write(vllmCompletionChunk(0, '', 'stop', '\n<human>:'));
      res.end(DONE);
    }),
  );
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, ...fast });
  const messages = [
    { role: 'system' as const, content: 'You are a coding assistant.' },
    { role: 'user' as const, content: 'Reverse a string in Python?' },
  ];
  const chunks: string[] = [];
  const r = await b.chat({ messages, maxTokens: 32, stop: ['```'] }, (c) => chunks.push(c.text));
  assert.equal(r.choices[0].text, ' Use slicing: s[::-1]');
  assert.equal(r.choices[0].finishReason, 'stop');
  assert.equal(chunks.join(''), ' Use slicing: s[::-1]');
  const sent = srv.requests.find((x) => x.path === '/v1/completions')!;
  // EleutherAI/gpt-neox-20b (/v1/models) is a base model: the few-shot conversation frame.
  assert.equal(sent.body.prompt, builtinChatTemplate('base').render(messages));
  assert.ok(String(sent.body.prompt).endsWith('You are a coding assistant.\n\nUser: Reverse a string in Python?\nAssistant:'), sent.body.prompt);
  assert.deepEqual(sent.body.stop, ['```', '\nUser:']);
  // Remembered: the next chat does not ask the chat route again.
  await b.chat({ messages, maxTokens: 8 }, () => {});
  assert.equal(srv.requests.filter((x) => x.path === '/v1/chat/completions').length, 1);
  await b.dispose();
  await srv.close();
});

test('a server without /v1/models (404) is used with the model and context from the settings', async () => {
  const srv = await startScripted((req, res) => {
    if (req.path === '/v1/models') return json(res, 404, { detail: 'Not Found' });
    sseHead(res);
    res.write(vllmCompletionChunk(0, 'ok', 'length'));
    res.end(DONE);
  });
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, model: 'tgi', contextLength: 4096, ...fast });
  const info = await b.load();
  assert.deepEqual([info.id, info.contextLength], ['tgi', 4096]);
  const r = await b.complete({ prompt: 'x', maxTokens: 1 }, () => {});
  assert.equal(r.choices[0].text, 'ok');
  assert.equal(srv.requests.at(-1)!.body.model, 'tgi');
  await b.dispose();
  await srv.close();
});
