/**
 * How the chat view turns an answer's markdown into HTML (markdown-it, raw HTML off; the caller still
 * sanitises the result). Every code block, fenced or indented, is the same `<pre class="hljs">` element
 * (highlighted, scrolling sideways, with the view's code buttons). A Python interactive session
 * (`>>> ` prompts) is code too: plain markdown would read each `>` as a block quote, nesting the
 * session three quotes deep into a column a few words wide.
 */
import hljs from 'highlight.js/lib/common';
import MarkdownIt, { type StateBlock } from 'markdown-it';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function codeBlockHtml(code: string, lang: string): string {
  const language = lang && hljs.getLanguage(lang) ? lang : undefined;
  const html = language ? hljs.highlight(code, { language, ignoreIllegals: true }).value : escapeHtml(code);
  return `<pre class="hljs"><code class="language-${escapeHtml(lang || 'text')}">${html}</code></pre>`;
}

/** The highlight.js language of a Python interactive session (prompts, continuation lines, output). */
const REPL_LANGUAGE = 'python-repl';
const REPL_PROMPT = /^>>>(?: |$)/;

/** Block rule: a line starting with `>>> ` opens a session that runs to the next blank line. */
function replSession(state: StateBlock, startLine: number, endLine: number, silent: boolean): boolean {
  if (state.sCount[startLine]! - state.blkIndent >= 4) return false;
  const first = state.src.slice(state.bMarks[startLine]! + state.tShift[startLine]!, state.eMarks[startLine]);
  if (!REPL_PROMPT.test(first)) return false;
  if (silent) return true;
  let next = startLine + 1;
  while (next < endLine && !state.isEmpty(next) && state.sCount[next]! >= state.blkIndent) next++;
  const token = state.push('fence', 'code', 0);
  token.info = REPL_LANGUAGE;
  token.markup = '```';
  token.content = state.getLines(startLine, next, state.blkIndent, true);
  token.map = [startLine, next];
  state.line = next;
  return true;
}

export function chatMarkdown(): InstanceType<typeof MarkdownIt> {
  const md = new MarkdownIt({ html: false, linkify: true, highlight: codeBlockHtml });
  md.block.ruler.before('blockquote', 'python_repl', replSession, { alt: ['paragraph', 'reference', 'blockquote', 'list'] });
  md.renderer.rules.code_block = (tokens, idx) => `${codeBlockHtml(tokens[idx]!.content, '')}\n`;
  return md;
}
