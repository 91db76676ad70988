// https with a private CA: rejected with an actionable error until the CA is trusted, then
// accepted — through the caFile setting and through NODE_EXTRA_CA_CERTS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createRemoteBackend } from '../../engine/remote/index';
import { splitPem, systemCertificates, trustedCertificates } from '../../engine/remote/tls';
import { json, startScripted, vllmModels } from './scripted-server';

const certs = (f: string) => fileURLToPath(new URL(`./certs/${f}`, import.meta.url));
const tls = { key: readFileSync(certs('server.key'), 'utf8'), cert: readFileSync(certs('server.pem'), 'utf8') };

test('https: an untrusted certificate names the fix; caFile or NODE_EXTRA_CA_CERTS make it work', async () => {
  const srv = await startScripted((_req, res) => json(res, 200, vllmModels()), tls);
  const untrusted = createRemoteBackend({ kind: 'openai', url: srv.url, connectTimeoutMs: 2000 });
  await assert.rejects(untrusted.load(), (e: Error) => /TLS certificate of https:\/\/127\.0\.0\.1:\d+ is not trusted.*CA file setting/.test(e.message));
  await untrusted.dispose();

  const withFile = createRemoteBackend({ kind: 'openai', url: srv.url, caFile: certs('ca.pem') });
  assert.equal((await withFile.load()).id, 'EleutherAI/gpt-neox-20b');
  await withFile.dispose();

  const saved = process.env.NODE_EXTRA_CA_CERTS;
  process.env.NODE_EXTRA_CA_CERTS = certs('ca.pem');
  try {
    const withEnv = createRemoteBackend({ kind: 'openai', url: srv.url });
    assert.equal((await withEnv.load()).id, 'EleutherAI/gpt-neox-20b');
    await withEnv.dispose();
  } finally {
    if (saved === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
    else process.env.NODE_EXTRA_CA_CERTS = saved;
  }
  await srv.close();
});

test('the trust list holds the system store on top of Node\'s roots; a bad caFile is named', () => {
  const sys = systemCertificates();
  if (process.platform === 'linux') assert.ok(sys.length > 0, 'this Linux has a CA bundle');
  const all = trustedCertificates();
  assert.ok(all.length >= sys.length);
  assert.equal(splitPem(readFileSync(certs('ca.pem'), 'utf8')).length, 1);
  assert.throws(() => trustedCertificates('/nonexistent/ca.pem'), /cannot read CA file \/nonexistent\/ca.pem/);
  assert.throws(() => trustedCertificates(certs('README.md')), /holds no PEM certificate/);
});

test('connect timeout: a TCP peer that never completes the TLS handshake', async () => {
  const held: Socket[] = [];
  const silent = createServer((sock) => void held.push(sock)); // accepts, never speaks TLS
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as { port: number }).port;
  const b = createRemoteBackend({ kind: 'openai', url: `https://127.0.0.1:${port}`, connectTimeoutMs: 300 });
  const t0 = Date.now();
  await assert.rejects(b.load(), (e: Error & { code?: string }) => e.code === 'connect_timeout' && e.message.includes(`https://127.0.0.1:${port} within 300 ms`));
  assert.ok(Date.now() - t0 < 2000);
  await b.dispose();
  for (const s of held) s.destroy();
  await new Promise<void>((r) => silent.close(() => r()));
});
