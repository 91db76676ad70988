// Comments in every language (server/languages.ts, one table): findComment finds line comments,
// block comments and docstrings in each language's own syntax, codeLines tells that language's
// comments from code, the prompt header is written as a comment of the language (closed where the
// language only has block comments) and a language without comments, or an unknown one, gets none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codeLines, findComment } from '../../server/comment';
import { templateFor } from '../../server/context/templates';
import { asLineComments, knownLanguage, languageFromFileName, languageIds, languageSpec } from '../../server/language';

const at = (text: string, lang: string) => findComment(text, text.split('\n').length - 1, lang)?.text;

test('every VS Code built-in language id is in the table', () => {
  const builtIn = 'abap bat bibtex clojure coffeescript c cpp csharp css cuda-cpp dart diff dockerfile fsharp git-commit go groovy handlebars haml hlsl html ini java javascript javascriptreact json jsonc julia latex less lua makefile markdown objective-c objective-cpp ocaml pascal perl php plaintext powershell pug python r razor ruby rust scss sass shellscript slim sql stylus svelte swift tex typescript typescriptreact vb vue xml xsl yaml haskell elixir erlang kotlin scala zig nim toml verilog vhdl matlab fortran lisp scheme prolog'.split(' ');
  const ids = new Set(languageIds());
  assert.deepEqual(builtIn.filter((l) => !ids.has(l)), []);
  for (const l of ['json', 'plaintext', 'diff']) assert.equal(knownLanguage(l), false, `${l} has no comments`);
});

test('findComment: line comments in each language', () => {
  for (const [lang, text] of [
    ['ruby', '# sum two numbers'], ['shellscript', '#!/bin/sh\n# sum two numbers'], ['lua', '-- sum two numbers'], ['sql', '--- sum two numbers'],
    ['haskell', '-- | sum two numbers'], ['clojure', ';; sum two numbers'], ['erlang', '%% sum two numbers'], ['latex', '% sum two numbers'],
    ['vb', "' sum two numbers"], ['bat', 'rem sum two numbers'], ['bat', '@REM sum two numbers'], ['bat', ':: sum two numbers'],
    ['fortran', '! sum two numbers'], ['php', '# sum two numbers'], ['rust', '/// sum two numbers'], ['pug', '//- sum two numbers'],
  ] as const) {
    assert.equal(at(text + '\n', lang), 'sum two numbers', `${lang}: ${text}`);
  }
  assert.equal(at('x = 1\n', 'ruby'), undefined);
  assert.equal(at('remove x\n', 'bat'), undefined, 'REM is a whole word');
  assert.equal(at('// not a comment here\n', 'json'), undefined);
});

test('findComment: block comments and docstrings in each language', () => {
  for (const [lang, text] of [
    ['html', '<!-- sum two numbers -->'], ['html', '<div>\n  <!--\n    sum two numbers\n  -->'], ['xml', '<!-- sum two numbers -->'],
    ['markdown', '<!-- sum two numbers -->'], ['css', '/* sum two numbers */'], ['c', '/**\n * sum two numbers\n */'],
    ['ruby', '=begin\nsum two numbers\n=end'], ['lua', '--[[ sum two numbers ]]'], ['lua', '--[[\nsum two numbers\n--]]'],
    ['haskell', '{- | sum two numbers -}'], ['ocaml', '(* sum two numbers *)'], ['fsharp', '(* sum two numbers *)'],
    ['powershell', '<#\nsum two numbers\n#>'], ['julia', '#= sum two numbers =#'], ['lisp', '#| sum two numbers |#'],
    ['python', '"""sum two numbers"""'], ['python', "def f(a, b):\n    '''\n    sum two numbers\n    '''"], ['coffeescript', '###\nsum two numbers\n###'],
    ['handlebars', '{{!-- sum two numbers --}}'], ['razor', '@* sum two numbers *@'], ['matlab', '%{\nsum two numbers\n%}'],
  ] as const) {
    assert.equal(at(text + '\n', lang), 'sum two numbers', `${lang}: ${text}`);
  }
  assert.equal(at('local x = t[a[1]]\n', 'lua'), undefined, 'a closing ]] of code is no comment');
});

test('codeLines: each language\'s comments are not code', () => {
  assert.deepEqual(codeLines('--[[ c ]]\nlocal x = 1\n-- y\n--[[\nz\n]]\nprint(x)', 'lua'), ['local x = 1', 'print(x)']);
  assert.deepEqual(codeLines('<!-- c -->\n<ul>\n<!--\nx\n-->\n</ul>', 'html'), ['<ul>', '</ul>']);
  assert.deepEqual(codeLines('=begin\nx\n=end\ndef f\n# c\nend', 'ruby'), ['def f', 'end']);
  assert.deepEqual(codeLines('{- x\n-}\nf x = x\n-- c', 'haskell'), ['f x = x']);
  assert.deepEqual(codeLines('-- c\n/* d */\nSELECT 1;', 'sql'), ['SELECT 1;']);
  assert.deepEqual(codeLines('REM x\nrem y\nremove z\n:: q\necho hi', 'bat'), ['remove z', 'echo hi']);
  assert.deepEqual(codeLines('# c\n"""doc"""\nx = 1', 'python'), ['x = 1']);
  assert.deepEqual(codeLines('/* a */ f();\n// b', 'javascript'), ['/* a */ f();']);
});

test('the prompt header is a comment of the language, closed for block-only languages; none without comments', () => {
  assert.equal(templateFor('haskell', 'Main.hs').header, '-- Path: Main.hs\n-- Language: haskell\n');
  assert.equal(templateFor('html', 'index.html').header, '<!-- Path: index.html -->\n<!-- Language: html -->\n');
  assert.equal(templateFor('css', 'a.css').header, '/* Path: a.css */\n/* Language: css */\n');
  assert.equal(templateFor('ocaml', 'a.ml').header, '(* Path: a.ml *)\n(* Language: ocaml *)\n');
  assert.equal(templateFor('vue', 'App.vue').header, '<!-- Path: App.vue -->\n<!-- Language: vue -->\n');
  for (const l of ['json', 'plaintext', 'diff', 'no-such-language']) assert.equal(templateFor(l, 'x').header, '', l);
  assert.equal(asLineComments('a\nb', 'sql'), '-- a\n-- b');
  assert.equal(asLineComments('a', 'html'), '<!-- a -->');
  assert.equal(languageSpec('lua').lineComment, '--');
  assert.equal(languageSpec('html').lineComment, '<!--');
});

test('languageFromFileName knows the table\'s extensions and file names', () => {
  assert.deepEqual(['a.rb', 'b.hs', 'c.sql', 'd.lua', 'e.html', 'f.sh', 'Dockerfile', 'Makefile', 'g.vue', 'README'].map(languageFromFileName), [
    'ruby', 'haskell', 'sql', 'lua', 'html', 'shellscript', 'dockerfile', 'makefile', 'vue', 'plaintext',
  ]);
});
