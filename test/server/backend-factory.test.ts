// BackendManager: which backend the settings pick, when it is rebuilt, how load failures surface.
// The builder here is a TEST DOUBLE recording what it was asked to build (no model is loaded);
// the real builder is exercised by lsp-integration.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NeoxError, type CompletionBackend, type ModelInfo } from '../../engine/types';
import { embeddedModelDir } from '../../engine/index';
import { BackendManager, defaultBuilder, type BackendSpec } from '../../server/backend-factory';
import { resolveSettings } from '../../server/settings';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

function recordingBuilder(failLoad = false) {
  const built: BackendSpec[] = [];
  const disposed: BackendSpec[] = [];
  const builder = (spec: BackendSpec): CompletionBackend => {
    built.push(spec);
    return {
      load: async (): Promise<ModelInfo> => {
        if (failLoad) throw new NeoxError(`Model folder ${spec.modelDir} does not exist`);
        return { id: spec.modelDir || spec.url, backend: spec.kind, contextLength: 2048, serializesGenerations: spec.kind === 'local', canEmbed: false };
      },
      complete: async () => ({ choices: [], usage: { promptTokens: 0, completionTokens: 0 } }),
      chat: async () => ({ choices: [], usage: { promptTokens: 0, completionTokens: 0 } }),
      countTokens: async (t) => t.length,
      health: async () => ({ ok: true }),
      dispose: async () => void disposed.push(spec),
    };
  };
  return { built, disposed, builder };
}

test('BackendManager: rebuilds only when a backend-shaping setting changes', async () => {
  const r = recordingBuilder();
  const events: string[] = [];
  const m = new BackendManager({ defaultModelPath: '/models/default' }, { onReady: (s) => events.push(`ready ${s.kind}`) }, r.builder);
  const s = resolveSettings({ quantization: 'int8' }).settings;
  assert.equal(m.apply(s), true);
  const { info } = await m.ready();
  assert.equal(info.id, '/models/default');
  assert.equal(m.apply({ ...s, maxTokens: 10, temperature: 0.5 }), false, 'request-only settings keep the backend');
  await m.ready();
  assert.equal(r.built.length, 1);
  assert.equal(m.apply({ ...s, quantization: 'int4' }), true);
  await m.ready();
  assert.equal(r.built.length, 2);
  assert.equal(r.built[1]!.quant, 'int4');
  assert.equal(r.disposed.length, 1);
  m.apply({ ...s, backend: 'openai', remoteUrl: 'http://gpu:8000' });
  m.setApiKey('sk-test');
  await m.ready();
  const last = r.built.at(-1)!;
  assert.equal(last.kind, 'openai');
  assert.equal(last.apiKey, 'sk-test');
  assert.deepEqual(events, ['ready local', 'ready local', 'ready openai']);
});

test('BackendManager: remote CA file and timeouts reach a remote backend and never reload a local model', async () => {
  const r = recordingBuilder();
  const m = new BackendManager({ defaultModelPath: '/models/default' }, {}, r.builder);
  const local = resolveSettings({}).settings;
  m.apply(local);
  await m.ready();
  assert.equal(m.apply({ ...local, remoteFirstTokenTimeoutMs: 90_000, remoteCaFile: '/etc/corp-ca.pem' }), false, 'local model kept');
  const remote = resolveSettings({ backend: 'tgi', remoteUrl: 'https://gpu:8080', remoteCaFile: '/etc/corp-ca.pem', remoteConnectTimeoutMs: 2000 }).settings;
  assert.equal(m.apply(remote), true);
  await m.ready();
  const spec = r.built.at(-1)!;
  assert.deepEqual([spec.kind, spec.caFile, spec.connectTimeoutMs, spec.firstTokenTimeoutMs], ['tgi', '/etc/corp-ca.pem', 2000, 30000]);
  assert.equal(m.apply({ ...remote, remoteFirstTokenTimeoutMs: 90_000 }), true, 'a new timeout rebuilds the remote backend');
  await m.ready();
  assert.equal(r.built.at(-1)!.firstTokenTimeoutMs, 90_000);
  assert.equal(r.built.at(-1)!.chatTemplate, 'auto', 'remoteChatTemplate defaults to auto');
  assert.equal(m.apply({ ...remote, remoteFirstTokenTimeoutMs: 90_000, remoteChatTemplate: 'local' }), true, 'remoteChatTemplate rebuilds');
  await m.ready();
  assert.equal(r.built.at(-1)!.chatTemplate, 'local');
  assert.equal(m.apply({ ...local, remoteChatTemplate: 'server' }), true);
  await m.ready();
  assert.equal(r.built.at(-1)!.chatTemplate, undefined, 'a local backend has none');
});

test('defaultBuilder: a CA file that cannot be read fails on use, naming the setting and the file', async () => {
  const b = defaultBuilder({ kind: 'openai', modelDir: '', quant: 'int8', url: 'https://127.0.0.1:9', model: '', caFile: '/no/such/ca.pem', connectTimeoutMs: 500 });
  await assert.rejects(b.load(), (e: Error) => e.message.includes('neoxComplete.remoteCaFile') && e.message.includes('/no/such/ca.pem'));
  await b.dispose();
});

test('resolveSettings: a remote timeout of the wrong type falls back to its default, naming the setting', () => {
  const { settings, problems } = resolveSettings({ remoteConnectTimeoutMs: 'soon' });
  assert.equal(settings.remoteConnectTimeoutMs, 5000);
  assert.match(problems.join('\n'), /neoxComplete\.remoteConnectTimeoutMs/);
});

test('BackendManager: a failed load is reported, and retried on the next request', async () => {
  const r = recordingBuilder(true);
  const errors: string[] = [];
  const m = new BackendManager({}, { onError: (_s, e) => errors.push(e.message) }, r.builder);
  m.apply(resolveSettings({ modelPath: '/no/such/model' }).settings);
  await assert.rejects(m.ready(), /\/no\/such\/model/);
  await assert.rejects(m.ready(), /\/no\/such\/model/);
  assert.equal(errors.length, 2);
});

test('defaultBuilder: a remote backend without a URL is a clear settings error', () => {
  assert.throws(
    () => defaultBuilder({ kind: 'openai', modelDir: '', quant: 'int8', url: '', model: '' }),
    (e: Error) => e instanceof NeoxError && e.message.includes('neoxComplete.remoteUrl'),
  );
});

test('embeddedModelDir points at the shipped default model', () => {
  assert.ok(existsSync(join(embeddedModelDir(), 'config.json')));
});
