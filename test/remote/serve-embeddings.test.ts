// POST /v1/embeddings of `neox serve` in-process over the real local engine (default model, fp32),
// read raw and through the OpenAI adapter; and the adapter against a scripted vLLM-shaped server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalBackend, type LocalBackend } from '../../engine/local/local-backend';
import { createRemoteBackend } from '../../engine/remote/index';
import { startServe, type ServeHandle } from '../../engine/serve/server';
import { NeoxError } from '../../engine/types';
import { json, startScripted, vllmError, vllmModels, VLLM_MODEL } from './scripted-server';
import { defaultModel } from './serve-process';

let local: LocalBackend;
let serve: ServeHandle;
let keyed: ServeHandle;

before(async () => {
  local = createLocalBackend({ modelDir: defaultModel, quant: 'fp32' });
  serve = await startServe(local, { port: 0, modelName: 'neox-code-23m' });
  keyed = await startServe(local, { port: 0, apiKey: 'sk-embed' });
});

after(async () => {
  await serve?.close();
  await keyed?.close();
  await local?.dispose();
});

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const r = await fetch(`${url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
}

const maxDiff = (a: number[], b: number[]) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

test('a list of strings: OpenAI-shaped answer, unit vectors equal to the engine\'s, usage counts the tokens', async () => {
  const texts = ['def parse_config(path):', 'function add(a, b) { return a + b; }'];
  const r = await post(serve.url, { model: 'neox-code-23m', input: texts });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.object, 'list');
  assert.equal(r.body.model, 'neox-code-23m');
  assert.deepEqual(r.body.data.map((d: any) => [d.object, d.index]), [['embedding', 0], ['embedding', 1]]);
  const direct = await local.embed(texts, { normalize: true });
  for (let i = 0; i < texts.length; i++) {
    const v = r.body.data[i].embedding as number[];
    assert.equal(v.length, 192);
    assert.ok(maxDiff(v, direct[i]!) < 1e-6, `input ${i} differs by ${maxDiff(v, direct[i]!)}`);
    assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5);
  }
  let tokens = 0;
  for (const t of texts) tokens += (await local.tokenize(t)).length;
  assert.deepEqual(r.body.usage, { prompt_tokens: tokens, total_tokens: tokens });
});

test('token ids embed as their text does; base64 is the float32 bytes; layer and pooling pass through', async () => {
  const text = 'class Stack:\n    def push(self, x):';
  const ids = await local.tokenize(text);
  const asText = await post(serve.url, { input: text });
  const asIds = await post(serve.url, { input: [ids] });
  const single = await post(serve.url, { input: ids });
  assert.equal(asIds.status, 200, JSON.stringify(asIds.body));
  assert.deepEqual(asIds.body.data[0].embedding, asText.body.data[0].embedding);
  assert.deepEqual(single.body.data[0].embedding, asText.body.data[0].embedding);
  assert.deepEqual(asIds.body.usage, { prompt_tokens: ids.length, total_tokens: ids.length });

  const b64 = await post(serve.url, { input: text, encoding_format: 'base64' });
  const buf = Buffer.from(b64.body.data[0].embedding as string, 'base64');
  const floats = Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4));
  assert.ok(maxDiff(floats, asText.body.data[0].embedding) < 1e-7);

  const l4 = await post(serve.url, { input: text, layer: 4, pooling: 'last', normalize: false });
  const [want] = await local.embed([text], { layer: 4, pooling: 'last' });
  assert.ok(maxDiff(l4.body.data[0].embedding, want!) < 1e-6);
});

test('bad requests: 400 naming the field, 404 for another model, 401 without the key', async () => {
  const cases: [unknown, number, string, RegExp][] = [
    [{}, 400, 'input', /is required/],
    [{ input: [] }, 400, 'input', /is required/],
    [{ input: ['ok', ''] }, 400, 'input[1]', /is empty/],
    [{ input: ['ok', { text: 'x' }] }, 400, 'input[1]', /string or a non-empty list of token ids/],
    [{ input: 'x', encoding_format: 'int8' }, 400, 'encoding_format', /"float" or "base64"/],
    [{ input: 'x', dimensions: 64 }, 400, 'dimensions', /not supported/],
    [{ input: [[1, 2, 999999]] }, 400, 'input', /token 2 is 999999/],
    [{ input: 'x'.repeat(2048 * 8 + 1) }, 400, 'input', /at most 16384/],
    [{ input: 'x', layer: 99 }, 400, 'input', /layer must be an integer in 0\.\.8/],
  ];
  for (const [body, status, param, re] of cases) {
    const r = await post(serve.url, body);
    assert.equal(r.status, status, JSON.stringify(body).slice(0, 80));
    assert.equal(r.body.error.param, param, JSON.stringify(r.body));
    assert.match(r.body.error.message, re);
  }
  // Over the context: 2049+ tokens in fewer than 16384 characters.
  const long = await post(serve.url, { input: 'x = 1\n'.repeat(1200) });
  assert.equal(long.status, 400);
  assert.match(long.body.error.message, /more than the model's context length 2048/);

  const other = await post(serve.url, { input: 'x', model: 'gpt-4' });
  assert.equal(other.status, 404);
  assert.match(other.body.error.message, /`gpt-4` does not exist/);
  const noKey = await post(keyed.url, { input: 'x' });
  assert.equal(noKey.status, 401);
  const withKey = await post(keyed.url, { input: 'x' }, { authorization: 'Bearer sk-embed' });
  assert.equal(withKey.status, 200);
  assert.equal(serve.stats().running, 0);
});

test('the OpenAI adapter embeds through neox serve, in batches, normalising on request', async () => {
  const b = createRemoteBackend({ kind: 'openai', url: serve.url });
  assert.equal((await b.load()).canEmbed, true);
  const texts = Array.from({ length: 70 }, (_, i) => `def f${i}(x):\n    return x * ${i}`);
  const before = serve.stats().requests;
  const got = await b.embed!(texts, { normalize: true });
  // 64 inputs per request: two requests (plus none for the already loaded model list).
  assert.equal(serve.stats().requests - before, 2);
  const direct = await local.embed(texts, { normalize: true });
  assert.equal(got.length, 70);
  for (let i = 0; i < texts.length; i++) assert.ok(maxDiff(got[i]!, direct[i]!) < 1e-6, `text ${i}`);
  await assert.rejects(b.embed!(['x'], { layer: 3 }), (e: unknown) => e instanceof NeoxError && e.code === 'unsupported' && /chooses the layer and pooling/.test(e.message));
  await b.dispose();
});

test('the adapter reads a vLLM answer in any index order; a server without embeddings is named', async () => {
  const srv = await startScripted((req, res) => {
    if (req.path === '/v1/models') return json(res, 200, vllmModels());
    const inputs = req.body.input as string[];
    if (inputs[0] === 'no route') return json(res, 404, { detail: 'Not Found' });
    if (inputs[0] === 'generation model') return json(res, 400, vllmError('The model does not support Embeddings API', 400));
    if (inputs[0] === 'short') return json(res, 200, { object: 'list', data: [], model: VLLM_MODEL });
    // vLLM's EmbeddingResponse, data listed last input first.
    const data = inputs.map((t, index) => ({ index, object: 'embedding', embedding: [t.length, 0, 0] })).reverse();
    return json(res, 200, { id: 'embd-1', object: 'list', created: 1732600002, model: VLLM_MODEL, data, usage: { prompt_tokens: 9, total_tokens: 9, completion_tokens: 0 } });
  });
  const b = createRemoteBackend({ kind: 'openai', url: srv.url, retryBaseMs: 20 });
  assert.deepEqual(await b.embed!(['a', 'bbb']), [[1, 0, 0], [3, 0, 0]]);
  assert.deepEqual(await b.embed!(['a', 'bbb'], { normalize: true }), [[1, 0, 0], [1, 0, 0]]);
  const sent = srv.requests.find((r) => r.path === '/v1/embeddings')!;
  assert.deepEqual(sent.body, { model: VLLM_MODEL, input: ['a', 'bbb'], encoding_format: 'float' });
  for (const [input, re] of [
    ['no route', /\/v1\/embeddings/],
    ['generation model', /does not support Embeddings API/],
    ['short', /answered 0 embeddings for 1 inputs/],
  ] as const) {
    await assert.rejects(b.embed!([input]), (e: unknown) => e instanceof NeoxError && re.test(e.message) && e.message.includes(`127.0.0.1:${srv.port}`), input);
  }
  await b.dispose();
  await srv.close();
});
