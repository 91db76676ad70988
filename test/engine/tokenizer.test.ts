import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, copyFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTokenizer, IncrementalDecoder } from '../../engine/local/tokenizer';
import { NeoxError } from '../../engine/types';

const MODEL = 'models/neox-code-23m';
const ref = JSON.parse(readFileSync('test/fixtures/neox-code-23m-reference.json', 'utf8')) as {
  tokenizer: { text: string; ids: number[] }[];
};

test('all 80 reference tokenizer cases give identical ids', async () => {
  const tok = await loadTokenizer(MODEL);
  assert.equal(ref.tokenizer.length, 80);
  const bad = ref.tokenizer.filter((c) => JSON.stringify(tok.encode(c.text)) !== JSON.stringify(c.ids));
  assert.deepEqual(bad.map((c) => c.text.slice(0, 40)), []);
  for (const c of ref.tokenizer) assert.equal(tok.decode(c.ids), c.text.normalize('NFC'), 'round trip');
});

test('decode never cleans up spaces and keeps special tokens', async () => {
  const tok = await loadTokenizer(MODEL);
  for (const s of ['a , b', "don 't", 'x . y ? z !', 'f ( a , b )']) assert.equal(tok.decode(tok.encode(s)), s);
  assert.equal(tok.decode([0]), '<|endoftext|>');
  assert.equal(tok.eosTokenId, 0);
});

test('incremental decoder streams whole characters only (emoji, CJK, accents)', async () => {
  const tok = await loadTokenizer(MODEL);
  const texts = ['héllo 😀 world', '世界你好，再见 龘𠀋', 'flags 🇫🇷🇯🇵 and 👩‍💻 done', 'naïve café ☕ — “quotes”', 'x😀😀😀y'];
  let splitSeen = 0;
  for (const text of texts) {
    const ids = tok.encode(text);
    splitSeen += ids.filter((id) => tok.decode([id]).includes('\uFFFD')).length;
    const d = new IncrementalDecoder(tok);
    const chunks = ids.map((id) => d.push(id));
    chunks.push(d.flush());
    for (const c of chunks) {
      assert.ok(!c.includes('\uFFFD'), `chunk ${JSON.stringify(c)} of ${JSON.stringify(text)} has U+FFFD`);
      assert.ok(!/[\uD800-\uDBFF]$/.test(c) && !/^[\uDC00-\uDFFF]/.test(c), 'no split surrogate pair');
    }
    assert.equal(chunks.join(''), text);
  }
  assert.ok(splitSeen > 0, 'the cases include tokens ending inside a character');
});

test('incremental decoder releases an unfinished character on flush', async () => {
  const tok = await loadTokenizer(MODEL);
  const ids = tok.encode(' 😀');
  const partial = ids.slice(0, -1);
  const d = new IncrementalDecoder(tok);
  assert.equal(partial.map((id) => d.push(id)).join(''), '');
  assert.ok(d.flush().includes('\uFFFD'));
});

function modelCopy(files: Record<string, string | null>): string {
  const dir = mkdtempSync(join(tmpdir(), 'neox-tok-'));
  for (const [name, content] of Object.entries(files)) {
    if (content === null) copyFileSync(join(MODEL, name), join(dir, name));
    else writeFileSync(join(dir, name), content);
  }
  return dir;
}

test('unreadable or invalid tokenizer.json gives a NeoxError naming the file', async () => {
  const cases: [string, Record<string, string | null>, RegExp][] = [
    ['missing', {}, /tokenizer\.json: cannot read tokenizer \(ENOENT\)/],
    ['not JSON', { 'tokenizer.json': '{"model": ' }, /tokenizer\.json: tokenizer is not valid JSON/],
    ['no model', { 'tokenizer.json': '{"version": "1.0"}' }, /tokenizer\.json: not a Hugging Face tokenizer \(missing field "model"\)/],
    ['bad tokenizer_config', { 'tokenizer.json': null, 'tokenizer_config.json': '[1,' }, /tokenizer_config\.json: tokenizer config is not valid JSON/],
  ];
  for (const [what, files, re] of cases) {
    const dir = modelCopy(files);
    await assert.rejects(loadTokenizer(dir), (e: unknown) => {
      assert.ok(e instanceof NeoxError, what);
      assert.match(e.message, re, what);
      assert.ok(e.message.includes(dir), `${what}: names the folder`);
      return true;
    });
  }
});

test('tokenizer_config.json is read (chat_template, eos_token)', async () => {
  const dir = modelCopy({ 'tokenizer.json': null, 'tokenizer_config.json': JSON.stringify({ eos_token: '<|padding|>', chat_template: 'x' }) });
  const tok = await loadTokenizer(dir);
  assert.equal(tok.eosTokenId, 1);
  assert.equal(tok.config.chat_template, 'x');
});
