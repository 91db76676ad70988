/**
 * Per-language prompt templates from snippets/<lang>.txt (format: snippets/README.md).
 * Found relative to this module both from sources (server/context/ -> ../../snippets) and from
 * the bundle (dist/server.mjs -> ../snippets), so no copy step is needed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commentLine, knownLanguage, languageSpec } from '../language';

export interface Template {
  header: string;
  fewShot: string;
}

const here = dirname(fileURLToPath(import.meta.url));
const DIRS = [join(here, '..', '..', 'snippets'), join(here, '..', 'snippets')];
const cache = new Map<string, Template>();

export function snippetsDir(): string | undefined {
  return DIRS.find((d) => existsSync(join(d, 'generic.txt')));
}

function load(stem: string): Template {
  let t = cache.get(stem);
  if (t) return t;
  const dir = snippetsDir();
  let raw = '';
  if (dir) {
    const file = join(dir, `${stem}.txt`);
    raw = readFileSync(existsSync(file) ? file : join(dir, 'generic.txt'), 'utf8');
  } else {
    raw = '{comment} Path: {path}\n{comment} Language: {language}\n---\n';
  }
  const [header = '', fewShot = ''] = raw.replace(/\r\n/g, '\n').split(/^---$/m);
  t = { header: header.replace(/\n+$/, ''), fewShot: fewShot.replace(/^\n+|\n+$/g, '') };
  cache.set(stem, t);
  return t;
}

function fill(s: string, vars: Record<string, string>): string {
  return s.replace(/\{(path|language|comment)\}/g, (_, k: string) => vars[k] ?? '');
}

/**
 * The template for `languageId` with its placeholders filled. Header ends with '\n' unless empty.
 * A language whose comment marker is unknown gets no header: a header in the wrong comment
 * syntax would be code the model learns from, not a comment.
 */
export function templateFor(languageId: string, path: string): Template {
  if (!knownLanguage(languageId)) return { header: '', fewShot: '' };
  const spec = languageSpec(languageId);
  const t = load(spec.template);
  const vars = { path, language: languageId, comment: spec.lineComment };
  // A header line that is a comment (`{comment} Path: ...`) is written in the language's own
  // comment syntax, closed where it is a block comment (`<!-- Path: ... -->` in HTML).
  const header = t.header
    .split('\n')
    .map((l) => (/^\{comment\} ?/.test(l) ? commentLine(fill(l.replace(/^\{comment\} ?/, ''), vars), languageId) : fill(l, vars)))
    .join('\n');
  return { header: header ? header + '\n' : '', fewShot: fill(t.fewShot, vars) };
}

/**
 * Steering for "generate from comment" / "generate file" (snippets/from-comment/<lang>.txt):
 * comment-then-code examples, and the first words of code forced on a retry when the model wrote
 * only comments (`top:` for a comment at the left margin, `inner:` for an indented one).
 */
export interface CodeSteering {
  examples: string;
  top: string;
  inner: string;
}

const steering = new Map<string, CodeSteering>();

export function codeSteeringFor(languageId: string): CodeSteering {
  // The language's own file (from-comment/ruby.txt), else its template's (typescriptreact -> typescript.txt).
  const dir = snippetsDir();
  const own = dir && /^[\w.+-]+$/.test(languageId) && existsSync(join(dir, 'from-comment', `${languageId}.txt`));
  const stem = own ? languageId : languageSpec(languageId).template;
  let s = steering.get(stem);
  if (s) return s;
  const file = dir ? join(dir, 'from-comment', `${stem}.txt`) : '';
  const raw = file && existsSync(file) ? readFileSync(file, 'utf8').replace(/\r\n/g, '\n') : '';
  const [examples = '', starts = ''] = raw.split(/^---$/m);
  // A start ending in a word character gets the space before the name the model writes next.
  const start = (k: string) => (new RegExp(`^${k}:[ \\t]*(.*)$`, 'm').exec(starts)?.[1]?.trim() ?? '').replace(/(\w)$/, '$1 ');
  s = { examples: examples.replace(/^\n+|\n+$/g, ''), top: start('top'), inner: start('inner') };
  steering.set(stem, s);
  return s;
}
