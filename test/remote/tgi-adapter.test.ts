// The TGI native adapter against a scripted loopback server replaying TGI's /info,
// /generate_stream and /generate wire format, including its failure modes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteBackend } from '../../engine/remote/index';
import { NeoxError } from '../../engine/types';
import { json, sleep, sseHead, startScripted, tgiFinal, tgiInfo, tgiToken, TGI_MODEL, type Script } from './scripted-server';

const fast = { connectTimeoutMs: 1000, firstTokenTimeoutMs: 2000, idleTimeoutMs: 2000, retryBaseMs: 20 };

function tgi(gen: Script, maxInput = 1024, maxTotal = 2048): Script {
  return (req, res, raw) => {
    if (req.path === '/info') return json(res, 200, tgiInfo(maxInput, maxTotal));
    if (req.path === '/health') return void res.writeHead(200).end();
    return gen(req, res, raw);
  };
}

async function rejectsNeox(p: Promise<unknown>, code: string, ...mustMention: string[]): Promise<void> {
  const e = await p.then(
    () => assert.fail('expected the request to fail'),
    (x: unknown) => x,
  );
  assert.ok(e instanceof NeoxError, `expected NeoxError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  for (const m of mustMention) assert.ok(e.message.includes(m), `"${e.message}" should mention "${m}"`);
}

test('generate_stream: tokens joined, EOS special token dropped, parameters as TGI wants them', async () => {
  const srv = await startScripted(
    tgi((_req, res) => {
      sseHead(res);
      res.write(tgiToken(1, 187, '\n'));
      res.write(tgiToken(2, 50276, '   '));
      res.write(tgiToken(3, 1091, ' return'));
      res.write(tgiToken(4, 295, ' n'));
      res.end(tgiFinal(5, 0, '<|endoftext|>', '\n    return n', 'eos_token', 5, true));
    }),
  );
  const b = createRemoteBackend({ kind: 'tgi', url: srv.url, apiKey: 'hf_x', ...fast });
  const info = await b.load();
  assert.equal(info.id, TGI_MODEL);
  assert.equal(info.backend, 'tgi');
  assert.equal(info.contextLength, 2048);
  const chunks: string[] = [];
  const r = await b.complete({ prompt: 'def f(n):', maxTokens: 32, temperature: 0.7, topK: 50, topP: 0.95, repetitionPenalty: 1.1, seed: 3 }, (c) => chunks.push(c.text));
  assert.equal(r.choices[0].text, '\n    return n');
  assert.equal(r.choices[0].finishReason, 'eos');
  assert.equal(r.usage.completionTokens, 5);
  assert.equal(chunks.join(''), '\n    return n');
  const sent = srv.requests.find((x) => x.path === '/generate_stream')!;
  assert.equal(sent.headers.authorization, 'Bearer hf_x');
  assert.deepEqual(sent.body, {
    inputs: 'def f(n):',
    parameters: { max_new_tokens: 32, details: true, do_sample: true, temperature: 0.7, top_k: 50, top_p: 0.95, seed: 3, repetition_penalty: 1.1 },
  });
  await b.dispose();
  await srv.close();
});

test('greedy request sends do_sample false and no temperature (TGI rejects temperature 0)', async () => {
  const srv = await startScripted(
    tgi((_req, res) => {
      sseHead(res);
      res.end(tgiFinal(1, 11, 'x', 'x', 'length', 1));
    }),
  );
  const b = createRemoteBackend({ kind: 'tgi', url: srv.url, ...fast });
  const r = await b.complete({ prompt: 'a', maxTokens: 1, temperature: 0 }, () => {});
  assert.equal(r.choices[0].finishReason, 'length');
  assert.deepEqual(srv.requests.at(-1)!.body.parameters, { max_new_tokens: 1, details: true, do_sample: false });
  await b.dispose();
  await srv.close();
});

test('stop sequence: TGI includes it, we drop it, and streamed chunks never show it', async () => {
  const srv = await startScripted(
    tgi((_req, res) => {
      sseHead(res);
      res.write(tgiToken(1, 1, 'a = 1'));
      res.write(tgiToken(2, 2, '\n'));
      res.end(tgiFinal(3, 3, '\n', 'a = 1\n\n', 'stop_sequence', 3));
    }),
  );
  const b = createRemoteBackend({ kind: 'tgi', url: srv.url, ...fast });
  const chunks: string[] = [];
  const r = await b.complete({ prompt: 'x', maxTokens: 8, stop: ['\n\n'] }, (c) => chunks.push(c.text));
  assert.equal(r.choices[0].text, 'a = 1');
  assert.equal(r.choices[0].finishReason, 'stop');
  assert.deepEqual(chunks, ['a = 1']);
  assert.deepEqual(srv.requests.at(-1)!.body.parameters.stop, ['\n\n']);
  await b.dispose();
  await srv.close();
});

test('non-streaming /generate', async () => {
  const srv = await startScripted(
    tgi((req, res) => {
      assert.equal(req.path, '/generate');
      json(res, 200, { generated_text: ' world', details: { finish_reason: 'length', generated_tokens: 2, seed: null, prefill: [], tokens: [] } });
    }),
  );
  const b = createRemoteBackend({ kind: 'tgi', url: srv.url, ...fast });
  const r = await b.complete({ prompt: 'hello', maxTokens: 2 });
  assert.equal(r.choices[0].text, ' world');
  assert.deepEqual(r.usage.completionTokens, 2);
  await b.dispose();
  await srv.close();
});

test('n=2 becomes two requests with seeds seed and seed+1', async () => {
  const srv = await startScripted(
    tgi((req, res) => {
      sseHead(res);
      res.end(tgiFinal(1, 1, `s${req.body.parameters.seed}`, '', 'length', 1));
    }),
  );
  const b = createRemoteBackend({ kind: 'tgi', url: srv.url, ...fast });
  const r = await b.complete({ prompt: 'x', maxTokens: 1, n: 2, temperature: 1, seed: 10 }, () => {});
  assert.deepEqual(r.choices.map((c) => c.text).sort(), ['s10', 's11']);
  await b.dispose();
  await srv.close();
});

test('TGI 422 validation error carries its message; overloaded 429 then success', async () => {
  let calls = 0;
  const srv = await startScripted(
    tgi((req, res) => {
      calls++;
      if (req.body.parameters.max_new_tokens === 3) return json(res, 422, { error: 'Input validation error: `inputs` must have less than 1024 tokens', error_type: 'validation' });
      if (calls === 2) return json(res, 429, { error: 'Model is overloaded', error_type: 'overloaded' });
      sseHead(res);
      res.end(tgiFinal(1, 1, 'ok', 'ok', 'length', 1));
    }),
  );
  const b = createRemoteBackend({ kind: 'tgi', url: srv.url, ...fast });
  await rejectsNeox(b.complete({ prompt: 'x', maxTokens: 3 }, () => {}), 'http_422', 'Input validation error', `${srv.url}/generate_stream`);
  const r = await b.complete({ prompt: 'x', maxTokens: 1 }, () => {});
  assert.equal(r.choices[0].text, 'ok');
  assert.equal(calls, 3);
  await b.dispose();
  await srv.close();
});

test('error event, invalid JSON and a cut stream each reject', async () => {
  let mode = 'error';
  const srv = await startScripted(
    tgi(async (_req, res) => {
      sseHead(res);
      res.write(tgiToken(1, 1, 'a'));
      if (mode === 'error') return void res.end(`data:${JSON.stringify({ error: 'Request failed during generation: Server error: CUDA OOM', error_type: 'generation' })}\n\n`);
      if (mode === 'json') return void res.end('data:{"index":2,"token":\n\n');
      await sleep(20);
      res.socket!.destroy();
    }),
  );
  const b = createRemoteBackend({ kind: 'tgi', url: srv.url, ...fast });
  await rejectsNeox(b.complete({ prompt: 'x', maxTokens: 8 }, () => {}), 'server_error', 'CUDA OOM', '(generation)');
  mode = 'json';
  await rejectsNeox(b.complete({ prompt: 'x', maxTokens: 8 }, () => {}), 'bad_stream', 'malformed');
  mode = 'cut';
  await rejectsNeox(b.complete({ prompt: 'x', maxTokens: 8 }, () => {}), 'stream_cut', '/generate_stream');
  await b.dispose();
  await srv.close();
});

test('a TGI that never sends a first token times out and the socket is closed', async () => {
  const srv = await startScripted(tgi((_req, res) => sseHead(res)));
  const b = createRemoteBackend({ kind: 'tgi', url: srv.url, ...fast, firstTokenTimeoutMs: 250 });
  await b.load();
  await rejectsNeox(b.complete({ prompt: 'x', maxTokens: 8 }, () => {}), 'first_token_timeout', '250 ms');
  await srv.clientClosed;
  await b.dispose();
  await srv.close();
});

test('prompt budget from /info max_input_tokens; max_new_tokens clamped to max_total_tokens', async () => {
  const srv = await startScripted(
    tgi((_req, res) => {
      sseHead(res);
      res.end(tgiFinal(1, 1, 'y', 'y', 'length', 1));
    }, 30, 48),
  );
  const b = createRemoteBackend({ kind: 'tgi', url: srv.url, ...fast });
  const prompt = 'x = 1\n'.repeat(5); // 20 tokens
  await b.complete({ prompt, maxTokens: 100 }, () => {});
  assert.equal(srv.requests.at(-1)!.body.parameters.max_new_tokens, 48 - 20);
  await rejectsNeox(b.complete({ prompt: prompt.repeat(2), maxTokens: 4 }), 'prompt_too_long', '40 tokens', 'max_input_tokens');
  await b.dispose();
  await srv.close();
});

test('older TGI (max_input_length) and a non-TGI server at the URL', async () => {
  const srv = await startScripted((req, res) => {
    if (req.path === '/info') return json(res, 200, { model_id: 'bigcode/starcoder', max_input_length: 100, max_total_tokens: 200 });
    json(res, 404, { detail: 'Not Found' });
  });
  const b = createRemoteBackend({ kind: 'tgi', url: srv.url, ...fast });
  assert.equal((await b.load()).contextLength, 200);
  await srv.close();
  const other = await startScripted((_req, res) => json(res, 200, { hello: 'world' }));
  const c = createRemoteBackend({ kind: 'tgi', url: other.url, ...fast });
  await rejectsNeox(c.load(), 'bad_response', 'not a TGI /info', '"openai"');
  await b.dispose();
  await c.dispose();
  await other.close();
});

test('chat goes to TGI\'s /v1/chat/completions; health uses /health', async () => {
  const srv = await startScripted(
    tgi((req, res) => {
      assert.equal(req.path, '/v1/chat/completions');
      json(res, 200, { object: 'chat.completion', model: 'tgi', choices: [{ index: 0, message: { role: 'assistant', content: 'Hi.' }, finish_reason: 'stop' }], usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } });
    }),
  );
  const b = createRemoteBackend({ kind: 'tgi', url: srv.url, ...fast });
  const r = await b.chat({ messages: [{ role: 'user', content: 'hello' }], maxTokens: 8 });
  assert.equal(r.choices[0].text, 'Hi.');
  assert.equal(srv.requests.at(-1)!.body.model, TGI_MODEL);
  assert.deepEqual(await b.health(), { ok: true, message: `${TGI_MODEL} at ${srv.url} (TGI 2.4.1)` });
  await b.dispose();
  await srv.close();
});

test('chat with a model TGI has no template for falls back to the format its model id is recognised as, over /generate_stream', async () => {
  const srv = await startScripted(
    tgi((req, res) => {
      if (req.path === '/v1/chat/completions') return json(res, 422, { error: 'Template error: template not found', error_type: 'template_error' });
      sseHead(res);
      res.write(tgiToken(1, 1, ' Sure.'));
      res.write(tgiToken(2, 2, '\nUser:'));
      res.end(tgiFinal(3, 3, '', ' Sure.\nUser:', 'stop_sequence', 3));
    }),
  );
  const b = createRemoteBackend({ kind: 'tgi', url: srv.url, ...fast });
  const r = await b.chat({ messages: [{ role: 'user', content: 'Help?' }], maxTokens: 16 }, () => {});
  assert.equal(r.choices[0].text, ' Sure.');
  const sent = srv.requests.find((x) => x.path === '/generate_stream')!;
  // EleutherAI/gpt-neox-20b (/info model_id) is a base model: the few-shot conversation frame.
  assert.ok(String(sent.body.inputs).endsWith('\n\nUser: Help?\nAssistant:'), sent.body.inputs);
  assert.deepEqual(sent.body.parameters.stop, ['\nUser:']);
  assert.equal(r.chatFormat, 'base');
  await b.dispose();
  await srv.close();
});
