// Prompt files through the language server, with a recording backend (the OpenAI kind against a
// loopback stand-in that keeps every request): the built-in prompts of each task reach the model
// (comment and docstring steering, the chat's system prompt, the explain question), a workspace's
// .neox/snippets/ adds to and replaces them and is re-read when a file changes, and a broken file is
// shown to the user once (window/showMessage) and logged, naming the file, while the built-in is used.
import { after, before, describe, test as nodeTest } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startServer, type Harness } from './lsp-harness';
import { DONE, json, sseHead, startScripted, vllmChatChunk, vllmCompletionChunk, vllmModels, type Scripted } from '../remote/scripted-server';

const test = (name: string, fn: () => Promise<void>) => nodeTest(name, { timeout: 60_000 }, fn);
const CODE = '    return a + b\n';

describe('prompt files through the language server (recording backend)', () => {
  let srv: Scripted;
  let h: Harness;
  let ws: string;
  let snippets: string;
  /** A document of the workspace, opened (a new uri each time, so nothing is cached between tests). */
  let n = 0;
  const open = async (name: string, languageId: string, text: string) => {
    const uri = pathToFileURL(join(ws, `${n++}-${name}`)).href;
    await h.open(uri, languageId, text);
    return uri;
  };
  const lastPrompt = () => String(srv.requests.filter((r) => r.path === '/v1/completions').at(-1)?.body.prompt);
  const fromComment = async (name: string, languageId: string, text: string) => {
    const uri = await open(name, languageId, text);
    const line = text.split('\n').length - 1;
    await h.conn.sendRequest('neox/generateFromComment', { streamId: `s${n}`, textDocument: { uri }, position: { line, character: 0 } });
    return lastPrompt();
  };
  /** Writes a workspace prompt file; a later mtime than before, so a rewrite of the same size is seen too. */
  const write = (rel: string, text: string) => {
    const file = join(snippets, rel);
    mkdirSync(join(file, '..'), { recursive: true });
    let before = 0;
    try {
      before = statSync(file).mtimeMs;
    } catch {
      // new file
    }
    writeFileSync(file, text);
    const t = new Date(Math.max(Date.now(), before + 1000));
    utimesSync(file, t, t);
    return file;
  };

  before(async () => {
    ws = mkdtempSync(join(tmpdir(), 'neox-ws-'));
    snippets = join(ws, '.neox', 'snippets');
    srv = await startScripted(async (req, res) => {
      if (req.path === '/v1/models') return json(res, 200, vllmModels());
      const chatting = req.path === '/v1/chat/completions';
      const text = chatting ? 'It adds.' : CODE;
      if (req.body?.stream !== true) {
        return json(res, 200, { id: 'c', object: 'text_completion', created: 1, model: 'm', choices: [{ index: 0, text, finish_reason: 'stop', stop_reason: null }] });
      }
      sseHead(res);
      res.write(chatting ? vllmChatChunk(0, { content: text }) : vllmCompletionChunk(0, text));
      res.write(chatting ? vllmChatChunk(0, {}, 'stop') : vllmCompletionChunk(0, '', 'stop'));
      res.end(DONE);
    });
    h = await startServer({ backend: 'openai', remoteUrl: srv.url, remoteModel: '', debounceMs: 0, crossFileContext: false }, {}, { rootUri: pathToFileURL(ws).href });
    await h.waitReady(20_000);
  });
  after(async () => {
    await h?.close();
    await srv?.close();
    rmSync(ws, { recursive: true, force: true });
  });

  test('built in: a comment is steered by from-comment/, a docstring by from-docstring/', async () => {
    const c = await fromComment('add.py', 'python', '# add two numbers\n');
    assert.ok(c.includes('# return the larger of a and b\ndef larger(a, b):'), c);
    assert.ok(c.endsWith('# add two numbers\n'), c);
    const d = await fromComment('add.py', 'python', 'def add(a, b):\n    """Add two numbers."""\n');
    assert.ok(d.includes('def larger(a, b):\n    """Return the larger of a and b."""\n    return a if a > b else b'), d);
    assert.ok(!d.includes('# return the larger'), 'not the comment examples');
    assert.ok(d.endsWith('def add(a, b):\n    """Add two numbers."""\n    '), d);
  });

  test("built in: the chat's system prompt comes with the attachment; explain asks the language's question", async () => {
    await h.conn.sendRequest('neox/chat', {
      streamId: 'chat-1',
      messages: [{ role: 'user', content: 'What does it do?' }],
      context: [{ fileName: 'a.py', languageId: 'python', text: 'def add(a, b):\n    return a + b' }],
    });
    const sent = srv.requests.filter((r) => r.path === '/v1/chat/completions').at(-1)!;
    const system = (sent.body.messages as { role: string; content: string }[])[0]!;
    assert.equal(system.role, 'system');
    assert.match(system.content, /^You are a helpful coding assistant\. The user attached:\n\na\.py \(python\):/);
    const q = await h.conn.sendRequest<{ question: string }>('neox/explainQuestion', { languageId: 'sql', fileName: 'db/q.sql' });
    assert.match(q.question, /^Explain what the attached SQL from db\/q\.sql does/);
  });

  test('the workspace adds a language, replaces a built-in file, and an edit counts from the next request', async () => {
    write('from-comment/ruby.txt', '---\ntop: def\n---\n# greet\ndef greet = puts("hi")\n');
    assert.ok((await fromComment('a.rb', 'ruby', '# add two numbers\n')).includes('# greet\ndef greet = puts("hi")\n\n\n# add two numbers'));
    write('from-comment/python.txt', '# mine: one\nONE = 1\n');
    let p = await fromComment('b.py', 'python', '# add two numbers\n');
    assert.ok(p.includes('# mine: one\nONE = 1\n\n\n# add two numbers') && !p.includes('def larger'), p);
    write('from-comment/python.txt', '# mine: two\nTWO = 2\n');
    p = await fromComment('c.py', 'python', '# add two numbers\n');
    assert.ok(p.includes('# mine: two\nTWO = 2') && !p.includes('ONE = 1'), p);
    // The inline completion header, the system prompt and the explain question too.
    write('complete/generic.txt', '{comment} File: {path} ({language})\n');
    const uri = await open('d.py', 'python', 'def f():\n    ');
    await h.inline(uri, { line: 1, character: 4 }, { invoked: true });
    assert.ok(lastPrompt().startsWith(`# File: ${n - 1}-d.py (python)\ndef f():`), lastPrompt());
    write('chat-system/python.txt', 'You answer in one sentence about {language}.\n');
    await h.conn.sendRequest('neox/chat', { streamId: 'chat-2', messages: [{ role: 'user', content: 'Why?' }], context: [{ fileName: 'a.py', languageId: 'python', text: 'x = 1' }] });
    const sent = srv.requests.filter((r) => r.path === '/v1/chat/completions').at(-1)!;
    assert.match((sent.body.messages as { content: string }[])[0]!.content, /^You answer in one sentence about python\. The user attached:/);
    write('explain/python.txt', 'What does {path} do?\n');
    assert.equal((await h.conn.sendRequest<{ question: string }>('neox/explainQuestion', { languageId: 'python', fileName: 'x.py' })).question, 'What does x.py do?');
  });

  test('a broken workspace file is shown once and logged, naming the file and line; the built-in is used', async () => {
    const shownBefore = h.shown.length;
    const file = write('from-comment/go.txt', '---\ntop: func\nstart func\n---\n// mine\n');
    const p = await fromComment('a.go', 'go', '// add two numbers\n');
    assert.ok(!p.includes('// mine'), 'the broken file is not used');
    assert.ok(p.includes('func '), `the built-in go examples are: ${p}`);
    await h.waitShown(shownBefore + 1);
    const expected = `${file}: line 3: "start func" is not a "key: value" line of the front-matter. The built-in prompts are used instead.`;
    assert.deepEqual(h.shown.slice(shownBefore), [{ type: 2, message: `NeoX: ${expected}` }]);
    assert.ok(h.logs.some((l) => l.includes(expected)), 'and logged');
    // Asked again while still broken: not shown again.
    await fromComment('b.go', 'go', '// add two numbers\n');
    await h.conn.sendRequest('neox/getStatus');
    assert.equal(h.shown.length, shownBefore + 1);
    // A wrong shape and an unreadable file are named too.
    const wrong = write('explain/python.txt', '---\ntop: def\n---\nWhat?\n');
    const q = await h.conn.sendRequest<{ question: string }>('neox/explainQuestion', { languageId: 'python', fileName: 'x.py' });
    assert.match(q.question, /^Explain what the attached python code from x\.py does/);
    await h.waitShown(shownBefore + 2);
    assert.equal(h.shown.at(-1)!.message, `NeoX: ${wrong}: line 2: unknown key "top" for a explain prompt (it takes no front-matter keys). The built-in prompts are used instead.`);
    const dir = join(snippets, 'chat-system', 'python.txt');
    rmSync(dir, { force: true });
    mkdirSync(dir, { recursive: true });
    await h.conn.sendRequest('neox/chat', { streamId: 'chat-3', messages: [{ role: 'user', content: 'Why?' }], context: [{ fileName: 'a.py', languageId: 'python', text: 'x = 1' }] });
    await h.waitShown(shownBefore + 3);
    assert.equal(h.shown.at(-1)!.message, `NeoX: ${dir}: it is not a file. The built-in prompts are used instead.`);
    const sent = srv.requests.filter((r) => r.path === '/v1/chat/completions').at(-1)!;
    assert.match((sent.body.messages as { content: string }[])[0]!.content, /^You are a helpful coding assistant\./);
  });
});
