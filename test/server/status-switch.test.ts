// The status bar's "· N ms" is the last completion's latency on the backend it names: after a switch to
// another model/backend it must not carry the previous one's number. The language server (remote
// OpenAI kind) against two loopback stand-ins for vLLM serving different models; every wait is on a
// neox/status event.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type Harness } from './lsp-harness';
import { DONE, json, sseHead, startScripted, vllmCompletionChunk, vllmModels, type Scripted } from '../remote/scripted-server';

/** A vLLM stand-in: its model list and a streamed completion. */
const vllm = () =>
  startScripted((req, res) => {
    if (req.path === '/v1/models') return json(res, 200, vllmModels());
    sseHead(res);
    res.write(vllmCompletionChunk(0, '    return a + b\n', 'stop'));
    res.end(DONE);
  });

let h: Harness | undefined;
const servers: Scripted[] = [];
after(async () => {
  await h?.close();
  for (const s of servers) await s.close();
});

test('switching the backend drops the previous model\'s completion latency from the status', { timeout: 60_000 }, async () => {
  const first = await vllm();
  const second = await vllm();
  servers.push(first, second);
  h = await startServer({ backend: 'openai', remoteUrl: first.url, remoteModel: '' });
  await h.waitStatus((s) => s.state === 'ready', { since: 0, timeoutMs: 20_000 });
  const uri = 'file:///work/project/calc.py';
  await h.open(uri, 'python', 'def add(a, b):\n    ');
  const list = await h.inline(uri, { line: 1, character: 4 }, { invoked: true });
  assert.ok((list?.items.length ?? 0) > 0, 'the first backend answered');
  const measured = await h.conn.sendRequest<{ lastLatencyMs?: number }>('neox/getStatus');
  assert.equal(typeof measured.lastLatencyMs, 'number', `the completion's latency is shown: ${JSON.stringify(measured)}`);

  const since = h.statuses.length;
  await h.applySettings({ remoteUrl: second.url });
  const starting = await h.waitStatus((s) => s.state === 'starting', { since, timeoutMs: 20_000 });
  assert.equal(starting.model, second.url, 'the switch names the new server');
  const startedAt = h.statuses.indexOf(starting, since);
  const ready = await h.waitStatus((s) => s.state === 'ready', { since: startedAt, timeoutMs: 20_000 });
  const afterSwitch = h.statuses.slice(startedAt, h.statuses.indexOf(ready, startedAt) + 1);
  for (const s of afterSwitch) assert.equal(s.lastLatencyMs, undefined, `no latency of the previous backend: ${JSON.stringify(s)}`);
  assert.equal((await h.conn.sendRequest<{ lastLatencyMs?: number }>('neox/getStatus')).lastLatencyMs, undefined);
});
