/**
 * `neox tokenize --model ORG/NAME` (the real CLI, from sources via tsx) against the Hub stand-in on
 * loopback (test/hub-stand-in.ts) serving the default model's files plus a tokenizer_config.json:
 * not cached, it downloads only tokenizer.json, tokenizer_config.json and config.json (never the
 * weights) into HF_HUB_CACHE from HF_ENDPOINT and gives the reference ids; cached, it asks nothing;
 * HF_HUB_OFFLINE with and without the files; a gated repository with and without HF_TOKEN; an unknown one.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { folderFiles, hubFile, HubStandIn } from '../hub-stand-in';

const REPO = 'neox-tok/code-23m';
const COMMIT = '70ce0000000000000000000000000000000000aa';
const GATED = 'neox-tok/gated-23m';
const TOKEN = 'hf_tokenizeStandInSecret42';
const TOKENIZER_CONFIG = hubFile('tokenizer_config.json', Buffer.from(JSON.stringify({ eos_token: '<|endoftext|>', model_max_length: 2048 })));
const files = [...folderFiles('models/neox-code-23m'), TOKENIZER_CONFIG];
const hub = new HubStandIn({
  [REPO]: { commit: COMMIT, files },
  [GATED]: { commit: 'ba5eba1100000000000000000000000000000042', files, token: TOKEN },
});
const ref = JSON.parse(readFileSync('test/fixtures/neox-code-23m-reference.json', 'utf8')) as { tokenizer: { text: string; ids: number[] }[] };

const work = mkdtempSync(join(tmpdir(), 'neox-tokenize-hub-'));
const input = join(work, 'texts.jsonl');
writeFileSync(input, ref.tokenizer.map((t) => JSON.stringify({ text: t.text })).join('\n') + '\n');
before(() => hub.start());
after(async () => {
  await hub.stop();
  rmSync(work, { recursive: true, force: true });
});

/** The CLI with a Hugging Face environment of the test's own (none of the user's token, cache or endpoint). */
function neox(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const full: NodeJS.ProcessEnv = { ...process.env, HF_HOME: join(work, 'hf-home'), HF_ENDPOINT: hub.hubUrl, ...env };
  for (const k of ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_HUB_OFFLINE', 'HF_TOKEN_PATH']) if (!(k in env)) delete full[k];
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'engine/cli/neox.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: full });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
const idsOf = (stdout: string) => stdout.trim().split('\n').map((l) => (JSON.parse(l) as { ids: number[] }).ids);
const snapshotFiles = (cache: string, repo: string, commit: string) => readdirSync(join(cache, `models--${repo.replace('/', '--')}`, 'snapshots', commit)).sort();
/** Requests that fetched a file (resolve URLs and the storage host), by file name. */
const fileRequests = () => hub.requests.filter((q) => /\/resolve\/|^\/blobs\/|^\/api\/resolve-cache\//.test(q.url)).map((q) => q.url);

test('not cached: downloads only the tokenizer files and config.json, then tokenizes like the reference', async () => {
  hub.requests.length = 0;
  const cache = join(work, 'cache-a');
  const r = await neox(['tokenize', '--model', REPO, '--input', input, '--json'], { HF_HUB_CACHE: cache });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(idsOf(r.stdout), ref.tokenizer.map((t) => t.ids));
  assert.match(r.stderr, /neox-tok\/code-23m@main is not in the Hugging Face cache; downloading 3 files, 2\.\d+ MB into .*models--neox-tok--code-23m/);
  // Its progress lines say what is happening (a download for --model), not another command's name.
  assert.match(r.stderr, /^neox: download neox-tok\/code-23m: downloading tokenizer\.json$/m);
  assert.match(r.stderr, /^neox: download neox-tok\/code-23m: 100% [\d.]+ MB \/ [\d.]+ MB, .*3\/3 files$/m);
  assert.doesNotMatch(r.stderr, /neox: pull/);
  assert.deepEqual(snapshotFiles(cache, REPO, COMMIT), ['config.json', 'tokenizer.json', 'tokenizer_config.json']);
  assert.equal(readFileSync(join(cache, 'models--neox-tok--code-23m', 'refs', 'main'), 'utf8'), COMMIT);
  const fetched = fileRequests();
  assert.ok(fetched.some((u) => u.endsWith('/tokenizer_config.json')), fetched.join(', '));
  assert.deepEqual(fetched.filter((u) => /safetensors|^\/blobs\//.test(u)), [], 'no weights requested');

  // Cached now: the same ids with no request at all, online or offline.
  hub.requests.length = 0;
  const again = await neox(['tokenize', '--model', REPO, 'def f(x):\n    return x'], { HF_HUB_CACHE: cache });
  assert.equal(again.code, 0, again.stderr);
  const offline = await neox(['tokenize', '--model', REPO, 'def f(x):\n    return x'], { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1' });
  assert.equal(offline.code, 0, offline.stderr);
  assert.deepEqual(idsOf(offline.stdout), idsOf(again.stdout));
  assert.ok(idsOf(again.stdout)[0]!.length > 3);
  assert.equal(hub.requests.length, 0, 'a cached tokenizer needs no request');
});

test('HF_HUB_OFFLINE=1 and nothing cached: one line naming the repository and the cache folder, no request', async () => {
  hub.requests.length = 0;
  const cache = join(work, 'cache-offline');
  const r = await neox(['tokenize', '--model', REPO, 'x'], { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1' });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.ok(r.stderr.startsWith(`neox tokenize: ${REPO}@main is not in the Hugging Face cache (${join(cache, 'models--neox-tok--code-23m')}) and HF_HUB_OFFLINE is set`), r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.equal(hub.requests.length, 0);
});

test('a gated repository: 401 without HF_TOKEN names what to do; with it the tokenizer is downloaded; the token is never printed', async () => {
  const cache = join(work, 'cache-gated');
  const denied = await neox(['tokenize', '--model', GATED, 'x'], { HF_HUB_CACHE: cache });
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /^neox tokenize: neox-tok\/gated-23m@ba5eba1100 file [\w.]+: the Hub refused access \(401\): .*set HF_TOKEN/m);
  hub.requests.length = 0;
  const ok = await neox(['tokenize', '--model', GATED, 'def f(x):'], { HF_HUB_CACHE: cache, HF_TOKEN: TOKEN });
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(idsOf(ok.stdout)[0]!.length > 2);
  assert.ok(hub.requests.some((q) => q.auth === `Bearer ${TOKEN}`), 'the token goes with the Hub requests');
  for (const out of [denied.stdout, denied.stderr, ok.stdout, ok.stderr]) assert.ok(!out.includes(TOKEN), 'token printed');
});

test('an unknown repository: one line naming it, the Hub and the missing folder', async () => {
  const r = await neox(['tokenize', '--model', 'neox-tok/no-such-model', 'x'], { HF_HUB_CACHE: join(work, 'cache-unknown') });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^neox tokenize: neox-tok\/no-such-model@main: repository not found on http:\/\/127\.0\.0\.1:\d+ \(404\).*\(and there is no folder .*neox-tok\/no-such-model\)\n$/);
});
