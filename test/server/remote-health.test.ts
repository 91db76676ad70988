// The status follows a remote backend's health: the language server (remote OpenAI kind, health
// polled every 200 ms through initializationOptions.healthPollMs) against a loopback stand-in for
// an OpenAI-compatible server. Stopping the stand-in turns the status to 'error' naming its URL;
// starting it again on the same port brings 'ready' back. Every wait is on a neox/status event.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startServer, type Harness } from './lsp-harness';
import { json, vllmModels } from '../remote/scripted-server';
import { redactUrl, redactUrlsIn } from '../../server/redact';

/** A minimal OpenAI-compatible server: /v1/models only (all the health check asks for). */
async function standIn(port = 0): Promise<{ port: number; stop(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.url === '/v1/models') return json(res, 200, vllmModels());
    json(res, 404, { error: { message: 'not scripted' } });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

let h: Harness | undefined;
let srv: { port: number; stop(): Promise<void> } | undefined;
after(async () => {
  await h?.close();
  await srv?.stop();
});

test('a remote server that stops answering turns the status to error with its URL; back to ready when it returns', { timeout: 60_000 }, async () => {
  srv = await standIn();
  const { port } = srv;
  const url = `http://127.0.0.1:${port}`;
  h = await startServer({ backend: 'openai', remoteUrl: url, remoteModel: '' }, { healthPollMs: 200 });
  await h.waitStatus((s) => s.state === 'ready', { since: 0, timeoutMs: 20_000 });

  let since = h.statuses.length;
  await srv.stop();
  srv = undefined;
  const down = await h.waitStatus((s) => s.state !== 'ready' && s.state !== 'generating', { since, timeoutMs: 10_000 });
  assert.equal(down.state, 'error', JSON.stringify(down));
  assert.ok(down.message?.includes(`${url}/`), `the message names the server: ${down.message}`);
  assert.ok(h.logs.some((l) => l.includes('not answering') && l.includes(url)), `logged: ${h.logs.join(' | ')}`);
  assert.equal((await h.conn.sendRequest<{ state: string }>('neox/getStatus')).state, 'error');

  since = h.statuses.length;
  srv = await standIn(port);
  const up = await h.waitStatus((s) => s.state !== 'error', { since, timeoutMs: 10_000 });
  assert.equal(up.state, 'ready', JSON.stringify(up));
  assert.ok(h.logs.some((l) => l.includes('answers again')), `logged: ${h.logs.join(' | ')}`);
});

test('URLs in health messages carry no credentials, query or fragment', () => {
  assert.equal(redactUrl('https://alice:s3cret@gpu-box:8000/v1?api_key=sk-1#x'), 'https://gpu-box:8000/v1');
  assert.equal(
    redactUrlsIn('GET https://bob:pw@gpu-box:8000/v1/models?key=sk-2 failed: ECONNREFUSED'),
    'GET https://gpu-box:8000/v1/models failed: ECONNREFUSED',
  );
});
