// Prompts as data (snippets/README.md): every built-in prompt file parses for its task; the format's
// errors name the line; each task finds its file by language id, template stem, then generic; a
// workspace folder's .neox/snippets/ adds to and replaces the built-ins, is re-read when a file
// changes, and a broken file is reported once and passed over for the built-in one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinSnippetsDir, parsePromptFile, PromptFiles, PROMPT_TASKS, type PromptTask } from '../../server/prompt-files';
import { chatSystemPrompt, codeSteeringFor, explainQuestion, templateFor } from '../../server/context/templates';
import { ROOT } from './lsp-harness';

const SNIPPETS = join(ROOT, 'snippets');

test('the built-in snippets/ is found, and every prompt file in it parses for its task', () => {
  assert.equal(builtinSnippetsDir(), SNIPPETS);
  const tasks = Object.keys(PROMPT_TASKS) as PromptTask[];
  for (const task of tasks) {
    const files = readdirSync(join(SNIPPETS, task));
    assert.ok(files.includes('generic.txt') || task.startsWith('from-') || task === 'generate-file', `${task} has a generic.txt`);
    for (const f of files) {
      assert.match(f, /\.txt$/, `${task}/${f}: only .txt files`);
      const p = parsePromptFile(readFileSync(join(SNIPPETS, task, f), 'utf8'), task, f);
      assert.ok(p.body.length > 0 || Object.keys(p.meta).length > 0, `${task}/${f} says something`);
    }
  }
  // Nothing outside the task folders but the chat formats and the README: snippets/ is data only.
  const top = readdirSync(SNIPPETS).filter((f) => !tasks.includes(f as PromptTask));
  assert.deepEqual(top.sort(), ['README.md', 'chat']);
  for (const f of readdirSync(join(SNIPPETS, 'chat'))) assert.match(f, /\.(json|jinja)$/);
});

test('the front-matter: key: value lines for the task, errors naming the line', () => {
  const ok = parsePromptFile('---\ntop: def\n# a comment\ninner: return\n---\n\n# add\ndef add(a, b):\n    return a + b\n\n', 'from-comment', 'f');
  assert.deepEqual(ok.meta, { top: 'def', inner: 'return' });
  assert.equal(ok.body, '# add\ndef add(a, b):\n    return a + b');
  assert.deepEqual(parsePromptFile('\uFEFFHello {path}\r\n', 'explain', 'f'), { file: 'f', meta: {}, body: 'Hello {path}', workspace: false });
  // A text that starts with --- after an empty front-matter.
  assert.equal(parsePromptFile('---\n---\n---\nkey: yaml\n', 'generate-file', 'f').body, '---\nkey: yaml');
  const bad = (raw: string, task: PromptTask, re: RegExp) => assert.throws(() => parsePromptFile(raw, task, 'f'), { message: re });
  bad('---\ntop: def\n# x\n', 'from-comment', /^line 1: the front-matter opened with --- is never closed/);
  bad('---\ntop def\n---\nx', 'from-comment', /^line 2: "top def" is not a "key: value" line/);
  bad('---\ntop: def\nstart: x\n---\nx', 'from-comment', /^line 3: unknown key "start" for a from-comment prompt \(it takes top, inner\)/);
  bad('---\ntop: a\ntop: b\n---\n', 'from-comment', /^line 3: "top" is given twice/);
  bad('---\ntop: def\n---\nExplain', 'explain', /unknown key "top" for a explain prompt \(it takes no front-matter keys\)/);
  bad('\n\n  \n', 'chat-system', /a chat-system prompt needs text/);
});

test('each task reads its files: language id, then template stem, then generic', () => {
  // complete/: one generic header, written in each language's comment syntax.
  assert.equal(templateFor('python', 'a/b.py').header, '# Path: a/b.py\n# Language: python\n');
  assert.equal(templateFor('sql', 'q.sql').header, '-- Path: q.sql\n-- Language: sql\n');
  // generate-file/: by template stem (typescriptreact -> typescript.txt), none for a language without one.
  assert.equal(templateFor('typescriptreact', 'a.tsx').fewShot, readFileSync(join(SNIPPETS, 'generate-file/typescript.txt'), 'utf8').trimEnd());
  assert.equal(templateFor('ruby', 'a.rb').fewShot, '');
  // from-comment/ and from-docstring/.
  const py = codeSteeringFor('python');
  assert.match(py.examples, /^# return the larger of a and b\ndef larger/);
  assert.equal(py.top, 'def ');
  const doc = codeSteeringFor('python', 'docstring');
  assert.match(doc.examples, /^def larger\(a, b\):\n {4}"""Return the larger of a and b\."""/);
  assert.equal(codeSteeringFor('java').inner, 'public ');
  // A language without a docstring file steers as for a comment.
  assert.deepEqual(codeSteeringFor('ruby', 'docstring'), codeSteeringFor('ruby'));
  assert.deepEqual(codeSteeringFor('no-such-language'), { examples: '', top: '', inner: '' });
  // explain/: the language's own question, else the generic one; placeholders filled.
  assert.match(explainQuestion('sql', 'db/report.sql'), /^Explain what the attached SQL from db\/report\.sql does/);
  assert.equal(explainQuestion('python', 'x.py'), 'Explain what the attached python code from x.py does: its purpose, its inputs and outputs, and anything surprising in it.');
  // chat-system/.
  assert.equal(chatSystemPrompt('python'), 'You are a helpful coding assistant.');
  assert.equal(chatSystemPrompt(), 'You are a helpful coding assistant.');
});

test('a workspace .neox/snippets/ adds and replaces files, is re-read on change, and a broken file is reported once', () => {
  const ws = mkdtempSync(join(tmpdir(), 'neox-prompts-'));
  try {
    const files = new PromptFiles(SNIPPETS);
    const problems: string[] = [];
    files.configure([ws], (m) => problems.push(m));
    const dir = join(ws, '.neox', 'snippets', 'from-comment');
    // Before the folder exists: the built-ins.
    assert.equal(files.find('from-comment', ['python'])?.workspace, false);
    mkdirSync(dir, { recursive: true });
    // A language the built-ins lack is added.
    writeFileSync(join(dir, 'elixir.txt'), '---\ntop: def\n---\n# add\ndef add(a, b), do: a + b\n');
    assert.equal(files.find('from-comment', ['elixir', 'generic'])?.body, '# add\ndef add(a, b), do: a + b');
    // The built-in file of the same name is replaced.
    const mine = join(dir, 'python.txt');
    writeFileSync(mine, '# mine\nx = 1\n');
    assert.equal(files.find('from-comment', ['python'])?.body, '# mine\nx = 1');
    // Rewritten (same size, a later mtime): the new text from the next request on.
    writeFileSync(mine, '# mime\nx = 2\n');
    const later = new Date(statSync(mine).mtimeMs + 2000);
    utimesSync(mine, later, later);
    assert.equal(files.find('from-comment', ['python'])?.body, '# mime\nx = 2');
    // Broken: reported once, naming the file and the line; the built-in is used meanwhile.
    writeFileSync(mine, '---\ntop def\n---\n# x\n');
    for (let i = 0; i < 3; i++) assert.equal(files.find('from-comment', ['python'])?.workspace, false);
    assert.equal(problems.length, 1);
    assert.equal(problems[0], `${mine}: line 2: "top def" is not a "key: value" line of the front-matter. The built-in prompts are used instead.`);
    // Fixed, then broken again: reported again.
    writeFileSync(mine, '# fixed\n');
    assert.equal(files.find('from-comment', ['python'])?.body, '# fixed');
    writeFileSync(mine, '---\ntop def\n---\n# x\n');
    files.find('from-comment', ['python']);
    assert.equal(problems.length, 2);
    // Unreadable (a folder where the file should be): reported, the built-in used.
    rmSync(mine);
    mkdirSync(mine);
    assert.equal(files.find('from-comment', ['python'])?.workspace, false);
    assert.match(problems[2]!, /python\.txt: it is not a file\. The built-in prompts are used instead\.$/);
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
});
