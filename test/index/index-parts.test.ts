// The workspace index's parts that need no model: identifier terms, chunking (with the real
// tree-sitter worker), which files are indexed, rank fusion, and the index settings as VS Code sends them.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chunkFile, CHUNK_LIMITS } from '../../server/index/chunker';
import { definitionsOf, stopDefinitionsWorker } from '../../server/index/definitions';
import { IgnoreRules, indexedLanguage, listFiles, skipReason } from '../../server/index/files';
import { identifierTerms, splitIdentifier } from '../../server/index/identifiers';
import { diversify, fuse } from '../../server/index/search';
import type { Hit } from '../../server/index/store';
import { resolveSettings } from '../../server/settings';

const tmp = mkdtempSync(join(tmpdir(), 'neox-index-parts-'));
after(async () => {
  rmSync(tmp, { recursive: true, force: true });
  await stopDefinitionsWorker();
});

test('identifiers split at humps, underscores and digits; the joined name follows its parts', () => {
  assert.deepEqual(splitIdentifier('parseXMLConfig2'), ['parse', 'xml', 'config', '2']);
  assert.deepEqual(splitIdentifier('load_settings'), ['load', 'settings']);
  assert.equal(identifierTerms('function parseConfig0(path)'), 'function parse config 0 parseconfig0 path');
  assert.equal(identifierTerms('MAX_RETRY-count'), 'max retry maxretry count');
  assert.equal(identifierTerms('größeBerechnen()'), 'größe berechnen größeberechnen');
  // The same terms for a name however it is written: a query finds it in any style.
  const terms = (s: string) => identifierTerms(s).split(' ').slice(0, 2);
  assert.deepEqual(terms('parseConfig'), terms('parse_config'));
  assert.deepEqual(terms('ParseConfig'), terms('parse config'));
});

test('a Python file is cut at its definitions; a long class at its methods; small neighbours merged', async () => {
  const method = (name: string, n: number) => [`    def ${name}(self):`, ...Array.from({ length: n }, (_, i) => `        x${i} = self.${name}_${i}()`), '        return x0', ''];
  const src = [
    'import os',
    '',
    '',
    'class Big:',
    '    """A class longer than one chunk."""',
    '',
    ...method('alpha', 30),
    ...method('beta', 30),
    '',
    'def helper(a):',
    '    return a + 1',
    '',
    '',
    'def other(b):',
    '    return b * 2',
  ].join('\n');
  const defs = await definitionsOf(src, 'python');
  assert.ok(defs, 'tree-sitter answered');
  assert.deepEqual(
    defs.map((d) => [d.name, d.depth]),
    [['Big', 0], ['alpha', 1], ['beta', 1], ['helper', 0], ['other', 0]],
  );
  const chunks = chunkFile(src, defs);
  const lines = src.split('\n');
  const find = (name: string) => chunks.find((c) => c.name.split(', ').includes(name));
  assert.equal(lines[find('alpha')!.startLine], '    def alpha(self):');
  assert.equal(lines[find('beta')!.startLine], '    def beta(self):');
  // helper and other are two-line functions: one chunk.
  assert.equal(find('helper'), find('other'));
  assert.match(find('helper')!.text, /def helper[\s\S]*def other/);
  // Every non-blank line is in exactly one chunk.
  const covered = new Map<number, number>();
  for (const c of chunks) for (let l = c.startLine; l <= c.endLine; l++) covered.set(l, (covered.get(l) ?? 0) + 1);
  lines.forEach((l, i) => {
    if (l.trim()) assert.equal(covered.get(i), 1, `line ${i + 1} "${l}"`);
  });
  for (const c of chunks) assert.ok(c.endLine - c.startLine < CHUNK_LIMITS.maxLines && c.text.length <= CHUNK_LIMITS.maxChars);
});

test('without a grammar: windows of lines, none longer than the limits, a huge line cut', () => {
  const src = Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n') + '\n' + 'x'.repeat(5000);
  const chunks = chunkFile(src, undefined);
  assert.deepEqual(
    chunks.map((c) => [c.startLine, c.endLine]),
    [[0, 39], [40, 79], [80, 99], [100, 100]],
  );
  assert.equal(chunks[3]!.text.length, CHUNK_LIMITS.maxChars);
});

test('TypeScript, Go and Rust definitions have their names', async () => {
  const cases: [string, string, string[]][] = [
    ['typescript', 'export class Store {\n  open(): void {}\n}\nexport function parseConfig(p: string) {\n  return p;\n}\ninterface Opts { a: number }', ['Store', 'open', 'parseConfig', 'Opts']],
    ['go', 'package x\n\ntype Server struct {\n\tport int\n}\n\nfunc (s *Server) Start() error {\n\treturn nil\n}\n\nfunc NewServer() *Server {\n\treturn nil\n}', ['Server', 'Start', 'NewServer']],
    ['rust', 'struct Queue { items: Vec<u32> }\nimpl Queue {\n    fn push(&mut self, x: u32) {}\n}\nfn main() {}', ['Queue', 'push', 'main']],
  ];
  for (const [lang, src, names] of cases) {
    const defs = await definitionsOf(src, lang);
    assert.deepEqual(defs?.map((d) => d.name).filter(Boolean), names, lang);
  }
});

test('which files: .gitignore at any depth, the exclude setting, data files, generated, binary, huge', async () => {
  const files: Record<string, string | Buffer> = {
    '.gitignore': 'build/\n*.log\n',
    'src/app.ts': 'export const a = 1;\n',
    'src/util.py': 'def f():\n    return 1\n',
    'src/sub/.gitignore': 'secret.ts\n!keep.log\n',
    'src/sub/secret.ts': 'x',
    'src/sub/open.ts': 'y',
    'build/out.js': 'z',
    'vendor/lib.go': 'package lib\n',
    'node_modules/m/index.js': 'm',
    'data.json': '{}',
    'README.md': '# readme\n',
    'app.min.js': 'a',
    'package-lock.json': '{}',
    'notes.txt': 'plain',
  };
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(tmp, p, '..'), { recursive: true });
    writeFileSync(join(tmp, p), c);
  }
  const rules = new IgnoreRules(tmp, ['vendor/']);
  const listed = (await listFiles(tmp, rules)).map((f) => f.path);
  assert.deepEqual(listed, ['README.md', 'src/app.ts', 'src/sub/open.ts', 'src/util.py']);
  assert.equal(await rules.ignored('build/deep/x.ts'), true);
  assert.equal(await rules.ignored('src/sub/secret.ts'), true);
  assert.equal(await rules.ignored('src/app.ts'), false);
  assert.equal(indexedLanguage('a/b/c.rs'), 'rust');
  assert.equal(indexedLanguage('x.json'), undefined);

  assert.equal(skipReason(Buffer.from('const a = 1;\n')), undefined);
  assert.equal(skipReason(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1])), 'binary');
  assert.equal(skipReason(Buffer.from('// Code generated by protoc-gen-go. DO NOT EDIT.\npackage x\n')), 'generated');
  assert.match(skipReason(Buffer.from('var a=' + '1,'.repeat(800)))!, /minified/);
  assert.match(skipReason(Buffer.alloc(600 * 1024, 'a\n'))!, /larger than 512 KB/);
});

test('rank fusion: weighted; both sides agreeing lifts a chunk, the lighter side alone does not lead', () => {
  const hit = (path: string): Hit => ({ path, startLine: 0, endLine: 1, name: '', text: '', score: 0 });
  const hits = (...p: string[]) => p.map(hit);
  const equal = fuse([{ hits: hits('a', 'b', 'c'), weight: 1 }, { hits: hits('d', 'b', 'a'), weight: 1 }], 3);
  assert.deepEqual(equal.map((h) => h.path), ['a', 'b', 'd']);
  const keywordLed = fuse([{ hits: hits('a', 'b', 'c'), weight: 1 }, { hits: hits('d', 'c', 'e'), weight: 0.25 }], 4);
  // c: third for keywords, second for vectors: first together; d, found by vectors only, after every keyword hit.
  assert.deepEqual(keywordLed.map((h) => h.path), ['c', 'a', 'b', 'd']);
  assert.ok(keywordLed[0]!.score > keywordLed[3]!.score);
});

test('diversity: a look-alike of a chunk already chosen gives way to the next different one; the best stays first; without vectors the fused order stays', () => {
  // Three generated services that differ in a name, then a different module with a slightly lower score.
  const hit = (path: string, score: number, vector?: number[]): Hit => ({ path, startLine: 0, endLine: 1, name: '', text: '', score, ...(vector ? { vector } : {}) });
  const service = (i: number) => [1, 0.1 * i, 0, 0.02];
  const fused = [hit('a-service', 1, service(1)), hit('b-service', 0.97, service(2)), hit('c-service', 0.95, service(3)), hit('cursor', 0.9, [0, 0, 1, 0.5]), hit('other', 0.5, [0, 1, 0, 0])];
  assert.deepEqual(diversify(fused, 3).map((h) => h.path), ['a-service', 'cursor', 'other']);
  // With equal vectors nothing is different: relevance alone orders them.
  const same = fused.map((h) => ({ ...h, vector: [1, 1, 1, 1] }));
  assert.deepEqual(diversify(same, 5).map((h) => h.path), fused.map((h) => h.path));
  const bare = fused.map(({ vector: _, ...h }) => h);
  assert.deepEqual(diversify(bare, 4), bare.slice(0, 4));
});

test('index settings arrive nested ({index: {exclude}}) as VS Code sends dotted keys, or flat', () => {
  const nested = resolveSettings({ index: { enabled: false, exclude: ['vendor/'] } });
  assert.equal(nested.settings['index.enabled'], false);
  assert.deepEqual(nested.settings['index.exclude'], ['vendor/']);
  const flat = resolveSettings({ 'index.exclude': ['a/'] });
  assert.deepEqual(flat.settings['index.exclude'], ['a/']);
  assert.equal(flat.settings['index.enabled'], true);
  const bad = resolveSettings({ index: { exclude: 'vendor/' } });
  assert.deepEqual(bad.settings['index.exclude'], []);
  assert.match(bad.problems[0]!, /neoxComplete\.index\.exclude/);
});
