/**
 * The prompts of each task, from the data files of snippets/ and the workspace's .neox/snippets/
 * (server/prompt-files.ts reads them; the format is in snippets/README.md): the inline completion
 * header, the few-shot file of "generate file", the steering of "generate from comment" and of code
 * from a docstring, the question "explain" asks and the chat's system prompt.
 */
import { NeoxError } from '../../engine/index';
import { commentLine, knownLanguage, languageSpec } from '../language';
import { promptFiles, type PromptFile, type PromptTask } from '../prompt-files';

export interface Template {
  header: string;
  fewShot: string;
}

/** The files a language's prompt may be in, most specific first: its id, its template's stem, generic. */
function namesFor(languageId: string): string[] {
  return [...new Set([languageId, languageSpec(languageId).template, 'generic'].filter(Boolean))];
}

function find(task: PromptTask, languageId: string): PromptFile | undefined {
  return promptFiles.find(task, namesFor(languageId));
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
  const vars = { path, language: languageId, comment: spec.lineComment };
  // A header line that is a comment (`{comment} Path: ...`) is written in the language's own
  // comment syntax, closed where it is a block comment (`<!-- Path: ... -->` in HTML).
  const header = (find('complete', languageId)?.body ?? '')
    .split('\n')
    .map((l) => (/^\{comment\} ?/.test(l) ? commentLine(fill(l.replace(/^\{comment\} ?/, ''), vars), languageId) : fill(l, vars)))
    .join('\n');
  return { header: header ? header + '\n' : '', fewShot: find('generate-file', languageId)?.body ?? '' };
}

/**
 * Steering for "generate from comment" / "generate file": examples of the language's comments (or
 * docstrings) followed by their code, and the first words of code forced on a retry when the model
 * wrote only comments (`top:` for a comment at the left margin, `inner:` for an indented one).
 */
export interface CodeSteering {
  examples: string;
  top: string;
  inner: string;
}

/**
 * The steering for code from a comment (from-comment/) or from a docstring (from-docstring/, else
 * from-comment/ where the language has no docstring file).
 */
export function codeSteeringFor(languageId: string, from: 'comment' | 'docstring' = 'comment'): CodeSteering {
  const f = (from === 'docstring' ? find('from-docstring', languageId) : undefined) ?? find('from-comment', languageId);
  // A start ending in a word character gets the space before the name the model writes next.
  const start = (k: string) => (f?.meta[k] ?? '').replace(/(\w)$/, '$1 ');
  return { examples: f?.body ?? '', top: start('top'), inner: start('inner') };
}

/** What "explain" asks about attached code of `languageId` from `path`. */
export function explainQuestion(languageId: string, path: string): string {
  const f = find('explain', languageId);
  if (!f) throw new NeoxError('no explain prompt: snippets/explain/generic.txt is missing from the installation', 'no_prompt');
  return fill(f.body, { path: path || 'the selection', language: languageId || 'source', comment: '' });
}

/** The chat's system prompt, for a conversation about code of `languageId` (the first attachment's). */
export function chatSystemPrompt(languageId = ''): string {
  const f = find('chat-system', languageId || 'generic');
  return f ? fill(f.body, { path: '', language: languageId, comment: '' }) : '';
}
