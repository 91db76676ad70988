// Prompt building (budget, stability across keystrokes), the snippet ring, templates,
// the comment finder, settings and statistics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PromptBuilder } from '../../server/context/prompt';
import { SnippetRing, jaccard, wordsOf } from '../../server/context/snippet-ring';
import { templateFor } from '../../server/context/templates';
import { findComment } from '../../server/comment';
import { resolveSettings } from '../../server/settings';
import { Statistics, percentile } from '../../server/stats';
import { grammarWasmPath, runtimeWasmPath } from '../../server/syntax';
import { languageFromFileName } from '../../server/language';
import { relativePath } from '../../server/paths';

// A deterministic token counter: one token per 4 characters (the builder only needs monotonic counts).
const count = async (t: string) => Math.ceil(t.length / 4);
const fileOf = (lines: number) => Array.from({ length: lines }, (_, i) => `value_${i} = compute(${i}, "row ${i}")`).join('\n') + '\n';

test('PromptBuilder: header + prefix, within the budget, whole prefix when it fits', async () => {
  const b = new PromptBuilder(count, new SnippetRing());
  const text = 'import os\nx = ';
  const p = await b.build({ uri: 'u', path: 'src/a.py', languageId: 'python', text, offset: text.length, budget: 500, crossFile: true });
  assert.equal(p.prompt, '# Path: src/a.py\n# Language: python\nimport os\nx = ');
  assert.equal(p.prefixStart, 0);
});

test('PromptBuilder: long prefix is cut at a line start and stays put while typing', async () => {
  const b = new PromptBuilder(count, new SnippetRing());
  let text = fileOf(400);
  const first = await b.build({ uri: 'u', path: 'a.py', languageId: 'python', text, offset: text.length, budget: 512, crossFile: false });
  assert.ok(first.tokens <= 512, `prompt ${first.tokens} tokens`);
  assert.ok(first.prefixStart > 0 && text[first.prefixStart - 1] === '\n');
  // Typing 200 more characters: same start, so the previous prompt is a prefix of the new one.
  for (const ch of 'result = compute_everything(value_1, value_2)'.repeat(4)) {
    text += ch;
    const p = await b.build({ uri: 'u', path: 'a.py', languageId: 'python', text, offset: text.length, budget: 512, crossFile: false });
    assert.equal(p.prefixStart, first.prefixStart);
    assert.ok(p.prompt.startsWith(first.prompt));
    assert.ok(p.tokens <= 512);
  }
});

test('PromptBuilder: snippets of similar code from other files, stable within a region', async () => {
  const ring = new SnippetRing();
  ring.addDocument('file:///other.py', 'lib/geometry.py', 'def rectangle_area(width, height):\n    return width * height\n');
  ring.addDocument('file:///noise.py', 'lib/net.py', 'import socket\nsock = socket.socket()\nsock.connect(addr)\n');
  const b = new PromptBuilder(count, ring);
  const text = 'width = 3\nheight = 4\narea = rectangle_area(';
  const p = await b.build({ uri: 'file:///main.py', path: 'main.py', languageId: 'python', text, offset: text.length, budget: 1000, crossFile: true });
  assert.match(p.prompt, /# Compare this snippet from lib\/geometry\.py:\n# def rectangle_area\(width, height\):/);
  assert.doesNotMatch(p.prompt, /socket/);
  // New chunk that matches better arrives while typing in the same region: choice stays (KV cache).
  ring.addDocument('file:///third.py', 'lib/area.py', 'width height area rectangle_area width height area');
  const text2 = text + 'width';
  const p2 = await b.build({ uri: 'file:///main.py', path: 'main.py', languageId: 'python', text: text2, offset: text2.length, budget: 1000, crossFile: true });
  assert.deepEqual(p2.snippetIds, p.snippetIds);
  // Cross-file context off: no snippets.
  const p3 = await b.build({ uri: 'file:///x.py', path: 'x.py', languageId: 'python', text, offset: text.length, budget: 1000, crossFile: false });
  assert.doesNotMatch(p3.prompt, /Compare this snippet/);
});

test('SnippetRing: bounded, replaces re-edited chunks, Jaccard similarity', () => {
  const ring = new SnippetRing(3, 2);
  for (let i = 0; i < 5; i++) ring.addAround(`u${i}`, `f${i}`, `line_a${i}\nline_b${i}`, 0);
  assert.equal(ring.size, 3);
  ring.addAround('u4', 'f4', 'changed_text\nsecond', 0);
  assert.equal(ring.size, 3);
  assert.equal(ring.get('u4#0')?.text, 'changed_text\nsecond');
  assert.equal(jaccard(wordsOf('foo bar baz'), wordsOf('foo bar qux')), 0.5);
  ring.removeDocument('u4');
  assert.equal(ring.get('u4#0'), undefined);
});

test('templates: every listed language has a header with path and language, and a few-shot example', () => {
  for (const lang of ['python', 'typescript', 'javascript', 'java', 'c', 'cpp', 'go', 'rust']) {
    const t = templateFor(lang, 'src/x');
    assert.match(t.header, /Path: src\/x\n/);
    assert.match(t.header, new RegExp(`Language: ${lang}\\n`));
    assert.ok(t.fewShot.length > 50, `${lang} few-shot`);
  }
  assert.equal(templateFor('ruby', 'a.rb').header, '# Path: a.rb\n# Language: ruby\n');
  assert.equal(templateFor('haskell', 'a.hs').header, '-- Path: a.hs\n-- Language: haskell\n');
  assert.equal(templateFor('sql', 'q.sql').header, '-- Path: q.sql\n-- Language: sql\n');
  // A language whose comment marker is unknown: no header rather than one in the wrong syntax.
  assert.deepEqual(templateFor('brainfuck', 'a.bf'), { header: '', fewShot: '' });
});

test('PromptBuilder: comment lines use the language\'s marker; unknown languages get neither header nor snippets', async () => {
  const ring = new SnippetRing();
  ring.addDocument('file:///lib.hs', 'Lib.hs', 'area width height = width * height\n');
  const b = new PromptBuilder(count, ring);
  const text = 'main = print (area width height)';
  const hs = await b.build({ uri: 'file:///Main.hs', path: 'Main.hs', languageId: 'haskell', text, offset: text.length, budget: 1000, crossFile: true });
  assert.equal(hs.prompt, '-- Path: Main.hs\n-- Language: haskell\n-- Compare this snippet from Lib.hs:\n-- area width height = width * height\n--\n' + text);
  const unknown = await b.build({ uri: 'file:///Main.xyz', path: 'Main.xyz', languageId: 'xyzlang', text, offset: text.length, budget: 1000, crossFile: true });
  assert.equal(unknown.prompt, text);
  assert.deepEqual(unknown.snippetIds, []);
});

test('findComment: Python #, docstring, //, /* */, JSDoc', () => {
  assert.deepEqual(findComment('x = 1\n# add two\n# numbers\n', 3, 'python'), { text: 'add two\nnumbers', endLine: 2, indent: '', docstring: false });
  assert.deepEqual(findComment('def f(a):\n    """Return a doubled."""\n', 2, 'python'), { text: 'Return a doubled.', endLine: 1, indent: '    ', docstring: true });
  assert.deepEqual(findComment('def f(a):\n    """\n    Multi\n    line.\n    """\n', 5, 'python')?.text, 'Multi\nline.');
  assert.deepEqual(findComment('  // sort the list\n', 0, 'typescript'), { text: 'sort the list', endLine: 0, indent: '  ', docstring: false });
  assert.deepEqual(findComment('/* reverse a string */\n\n', 2, 'c')?.text, 'reverse a string');
  assert.deepEqual(findComment('/**\n * Parse a date.\n * @param s text\n */\n', 4, 'javascript')?.text, 'Parse a date.\n@param s text');
  assert.equal(findComment('x = 1\n', 1, 'python'), undefined);
});

test('resolveSettings: defaults, valid values kept, bad ones named and replaced', () => {
  assert.equal(resolveSettings(undefined).settings.quantization, 'int8');
  const { settings, problems } = resolveSettings({ maxTokens: 32, backend: 'gpu', debounceMs: 'auto', temperature: 'hot', enabledLanguages: ['python'] });
  assert.equal(settings.maxTokens, 32);
  assert.equal(settings.backend, 'local');
  assert.equal(settings.temperature, 0);
  assert.deepEqual(settings.enabledLanguages, ['python']);
  assert.equal(problems.length, 2);
  assert.match(problems.join('\n'), /neoxComplete\.backend: "gpu"/);
  assert.match(problems.join('\n'), /neoxComplete\.temperature: "hot"/);
});

test('Statistics: counts, percentiles, persisted to a JSON file and read back; corrupt file ignored', () => {
  const dir = mkdtempSync(join(tmpdir(), 'neox-stats-'));
  const file = join(dir, 'statistics.json');
  const s = new Statistics(file);
  for (let i = 1; i <= 100; i++) s.request(i % 10 === 0 ? 'cache' : 'generated', i);
  s.event('shown');
  s.event('accepted');
  s.flush();
  const snap = new Statistics(file).snapshot();
  assert.equal(snap.requests, 100);
  assert.equal(snap.cacheHits, 10);
  assert.equal(snap.shown, 1);
  assert.equal(snap.latencyMs.p50, 50);
  assert.equal(snap.latencyMs.p95, 95);
  assert.ok(JSON.parse(readFileSync(file, 'utf8')).latencies.length === 100);
  writeFileSync(file, '{not json');
  assert.equal(new Statistics(file).snapshot().requests, 0);
  assert.equal(percentile([], 50), 0);
});

test('tree-sitter wasm files are found (runtime and grammars of the fixture languages)', () => {
  assert.ok(runtimeWasmPath());
  for (const g of ['python', 'typescript', 'java', 'c', 'cpp', 'javascript', 'go', 'rust']) assert.ok(grammarWasmPath(g), g);
});

test('languageFromFileName and relativePath', () => {
  assert.equal(languageFromFileName('Stack.java'), 'java');
  assert.equal(languageFromFileName('x.tsx'), 'typescriptreact');
  assert.equal(languageFromFileName('README'), 'plaintext');
  assert.equal(relativePath('file:///w/p/src/a%20b.py', ['file:///w/p']), 'src/a b.py');
  assert.equal(relativePath('file:///elsewhere/c.py', ['file:///w/p']), 'c.py');
});
