// Every language in the text (issue 14): Chinese, Japanese, Russian, Arabic and emoji pass through
// the language server intact. A recording backend (the OpenAI kind against a loopback stand-in that
// keeps every request and streams its answers with multi-byte characters split across network
// writes) shows that a Chinese comment reaches the prompt, and its code streams back and ends up in
// the result unbroken; an Arabic chat question reaches the model and its answer streams back whole.
// Unit tests: the context ring's identifier matching is Unicode-aware, and the engine's streaming
// decoder never splits a multi-byte character or an emoji (surrogate pair) across deltas.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { startServer, type Harness } from './lsp-harness';
import { DONE, json, sleep, sseHead, startScripted, vllmChatChunk, vllmCompletionChunk, vllmModels, type Scripted } from '../remote/scripted-server';
import { SnippetRing, jaccard, wordsOf } from '../../server/context/snippet-ring';
import { findComment, codeLines } from '../../server/comment';
import { IncrementalDecoder } from '../../engine/local/tokenizer';

const COMMENT = '# 计算斐波那契数列的第n项';
const CODE = 'def 斐波那契(n):\n    """日本語: フィボナッチ数 🚀"""\n    return n if n < 2 else 斐波那契(n - 1) + 斐波那契(n - 2)\n';
const QUESTION = 'ما هي الدالة التي تجمع رقمين؟';
const ANSWER = 'الدالة add تجمع رقمين 👍🏽 — это функция сложения, 加法。';

/** Writes `text` as SSE events in pieces, each event's bytes split in the middle of a character, with a pause between writes. */
async function splitWrite(res: ServerResponse, events: string[]): Promise<void> {
  for (const e of events) {
    const bytes = Buffer.from(e, 'utf8');
    // Cut where a multi-byte sequence continues (a byte 10xxxxxx), so a character spans two writes.
    let cut = bytes.findIndex((b, i) => i > 0 && (b & 0xc0) === 0x80);
    if (cut < 0) cut = bytes.length >> 1;
    res.write(bytes.subarray(0, cut));
    await sleep(5);
    res.write(bytes.subarray(cut));
    await sleep(5);
  }
}

/** `text` in pieces of a few characters (code points, so the pieces themselves are whole). */
const pieces = (text: string, n = 3) => {
  const cps = [...text];
  const out: string[] = [];
  for (let i = 0; i < cps.length; i += n) out.push(cps.slice(i, i + n).join(''));
  return out;
};

describe('non-English text through the language server (recording backend)', () => {
  let srv: Scripted;
  let h: Harness;
  before(async () => {
    srv = await startScripted(async (req, res) => {
      if (req.path === '/v1/models') return json(res, 200, vllmModels());
      if (req.method !== 'POST') return json(res, 404, { detail: 'Not Found' });
      const chatting = req.path === '/v1/chat/completions';
      const text = chatting ? ANSWER : CODE;
      if (req.body.stream !== true) {
        return json(res, 200, { id: 'c', object: 'text_completion', created: 1, model: 'm', choices: [{ index: 0, text, finish_reason: 'stop', stop_reason: null }] });
      }
      sseHead(res);
      const events = pieces(text).map((p) => (chatting ? vllmChatChunk(0, { content: p }) : vllmCompletionChunk(0, p)));
      events.push(chatting ? vllmChatChunk(0, {}, 'stop') : vllmCompletionChunk(0, '', 'stop'));
      await splitWrite(res, events);
      res.end(DONE);
    });
    h = await startServer({ backend: 'openai', remoteUrl: srv.url, remoteModel: '', debounceMs: 0 });
    await h.waitReady(20_000);
  });
  after(async () => {
    await h?.close();
    await srv?.close();
  });

  test('a Chinese comment reaches the prompt; its code streams back and is the result, unbroken', { timeout: 60_000 }, async () => {
    const uri = 'file:///work/project/斐波那契.py';
    const doc = `${COMMENT}\n`;
    await h.open(uri, 'python', doc);
    const streamId = 'unicode-c2c';
    const r = await h.conn.sendRequest<{ text: string; comment: string }>('neox/generateFromComment', { streamId, textDocument: { uri }, position: { line: 1, character: 0 } });
    assert.equal(r.comment, '计算斐波那契数列的第n项');
    const sent = srv.requests.filter((x) => x.path === '/v1/completions').at(-1);
    assert.ok(sent, 'the backend was asked');
    assert.ok(String(sent.body.prompt).includes(`${COMMENT}\n`), `the prompt carries the comment: ${JSON.stringify(sent.body.prompt)}`);
    assert.ok(String(sent.body.prompt).includes('斐波那契.py'), 'and the path header the file name');
    const streamed = h.streams.filter((s) => s.streamId === streamId).map((s) => s.delta);
    for (const d of streamed) assert.ok(!/\uFFFD|[\uD800-\uDBFF]$|^[\uDC00-\uDFFF]/.test(d), `a delta splits a character: ${JSON.stringify(d)}`);
    assert.equal('\n' + streamed.join(''), r.text);
    assert.equal(r.text, '\n' + CODE.trimEnd(), 'post-processing kept every character');
    assert.ok(codeLines(r.text, 'python').length > 0);
  });

  test('an Arabic chat question reaches the model; the answer streams back and is the result, unbroken', { timeout: 60_000 }, async () => {
    const streamId = 'unicode-chat';
    const r = await h.conn.sendRequest<{ content: string }>('neox/chat', { streamId, messages: [{ role: 'user', content: QUESTION }] });
    const sent = srv.requests.filter((x) => x.path === '/v1/chat/completions' || x.path === '/v1/completions').at(-1)!;
    assert.ok(JSON.stringify(sent.body).includes(JSON.stringify(QUESTION).slice(1, -1)), `the request carries the question: ${JSON.stringify(sent.body)}`);
    const streamed = h.streams.filter((s) => s.streamId === streamId).map((s) => s.delta);
    for (const d of streamed) assert.ok(!/\uFFFD|[\uD800-\uDBFF]$|^[\uDC00-\uDFFF]/.test(d), `a delta splits a character: ${JSON.stringify(d)}`);
    assert.equal(streamed.join(''), r.content);
    assert.equal(r.content, ANSWER);
  });

  test('an inline completion after Japanese and Russian identifiers keeps them in the prompt', { timeout: 60_000 }, async () => {
    const uri = 'file:///work/project/計算.py';
    const text = 'def сумма(значения):\n    合計 = 0\n    ';
    await h.open(uri, 'python', text);
    await h.inline(uri, { line: 2, character: 4 }, { invoked: true });
    const sent = srv.requests.filter((x) => x.path === '/v1/completions').at(-1)!;
    assert.ok(String(sent.body.prompt).includes('def сумма(значения):\n    合計 = 0\n'), JSON.stringify(sent.body.prompt));
  });
});

test('findComment keeps non-English comments whole', () => {
  assert.equal(findComment('# 计算斐波那契数列的第n项\n', 1, 'python')?.text, '计算斐波那契数列的第n项');
  assert.equal(findComment('-- вернуть сумму списка 🙂\n', 1, 'haskell')?.text, 'вернуть сумму списка 🙂');
  assert.equal(findComment('<!-- قائمة الفواكه -->\n', 1, 'html')?.text, 'قائمة الفواكه');
});

test('context ring: identifiers in any script are words, and similar chunks in Chinese or Russian are found', () => {
  assert.deepEqual([...wordsOf('def 斐波那契(n): return сумма + größe + مجموع + x1 + 計算')], ['def', '斐波那契', 'return', 'сумма', 'größe', 'مجموع']);
  assert.equal(jaccard(wordsOf('сумма значения итог'), wordsOf('сумма значения другое')), 0.5);
  const ring = new SnippetRing();
  ring.addDocument('file:///a.py', 'a.py', 'def 计算总和(数字列表):\n    return sum(数字列表)\n');
  ring.addDocument('file:///b.py', 'b.py', 'def unrelated_helper():\n    pass\n');
  const found = ring.select('file:///c.py', 'result = 计算总和(数字列表)');
  assert.deepEqual(found.map((c) => c.path), ['a.py']);
});

test('the streaming decoder never splits a multi-byte character or a surrogate pair across deltas', () => {
  // A byte-level tokenizer: each token is one UTF-8 byte, decoded like a BPE tokenizer decodes a
  // sequence ending inside a character (a trailing U+FFFD).
  const tokenizer = { decode: (ids: number[]) => Buffer.from(ids).toString('utf8') };
  const text = '计算斐波那契 — フィボナッチ, сумма, مجموع 🚀👍🏽👨‍👩‍👧 é';
  const bytes = [...Buffer.from(text, 'utf8')];
  const dec = new IncrementalDecoder(tokenizer);
  const deltas = bytes.map((b) => dec.push(b));
  deltas.push(dec.flush());
  for (const d of deltas) {
    assert.ok(!d.includes('\uFFFD'), `half a character: ${JSON.stringify(d)}`);
    assert.ok(!/[\uD800-\uDBFF]$/.test(d) && !/^[\uDC00-\uDFFF]/.test(d), `half a surrogate pair: ${JSON.stringify(d)}`);
    assert.ok(!/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(d), `a lone surrogate: ${JSON.stringify(d)}`);
  }
  assert.equal(deltas.join(''), text);
  // Tokens of two bytes each: characters end mid-token as often as not, and flush gives the rest.
  const dec2 = new IncrementalDecoder({ decode: (ids: number[]) => Buffer.from(ids.flatMap((i) => (i > 255 ? [i >> 8, i & 255] : [i]))).toString('utf8') });
  const pairs: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) pairs.push(i + 1 < bytes.length ? (bytes[i]! << 8) | bytes[i + 1]! : bytes[i]!);
  const deltas2 = [...pairs.map((p) => dec2.push(p)), dec2.flush()];
  for (const d of deltas2) assert.ok(!d.includes('\uFFFD') && !/[\uD800-\uDBFF]$|^[\uDC00-\uDFFF]/.test(d), JSON.stringify(d));
  assert.equal(deltas2.join(''), text);
});
