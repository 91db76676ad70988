/**
 * Chat webview script (bundled for the browser into dist/webview/chat.js). Renders the conversation as
 * markdown (markdown.ts: markdown-it, raw HTML off, highlight.js code blocks) and passes every rendered fragment
 * through DOMPurify: model output is untrusted. Code blocks get Copy / Insert / New file buttons whose
 * actions run in the extension. Keyboard: Enter sends, Shift+Enter adds a line, Escape stops.
 */
import DOMPurify from 'dompurify';
import type { CodeLocation } from '../../../protocol/index';
import type { AnswerInfo, StoredTurn } from '../conversation';
import type { Attach, FromWebview, ToWebview } from '../messages';
import { chatMarkdown } from './markdown';

declare function acquireVsCodeApi(): { postMessage(m: FromWebview): void; getState(): unknown; setState(s: unknown): void };
const vscode = acquireVsCodeApi();

const md = chatMarkdown();

const log = document.getElementById('log') as HTMLElement;
const form = document.getElementById('composer') as HTMLFormElement;
const input = document.getElementById('input') as HTMLTextAreaElement;
const attach = document.getElementById('attach') as HTMLSelectElement;
const stopBtn = document.getElementById('stop') as HTMLButtonElement;
const sendBtn = document.getElementById('send') as HTMLButtonElement;
const clearBtn = document.getElementById('clear') as HTMLButtonElement;

/** The answer being streamed. `stopRequested`: the user pressed Stop. It wins even when the answer's end
 * crossed the stop message on its way (the extension then marks the stored turn stopped too). */
let streaming: { el: HTMLElement; text: string; stopRequested?: boolean } | undefined;

function render(markdown: string): DocumentFragment {
  const clean = DOMPurify.sanitize(md.render(markdown), { RETURN_DOM_FRAGMENT: true, FORBID_TAGS: ['style', 'form', 'input'] });
  clean.querySelectorAll('pre > code').forEach((code, i) => addCodeButtons(code as HTMLElement, i));
  clean.querySelectorAll('a').forEach((a) => a.setAttribute('rel', 'noopener noreferrer'));
  return clean;
}

function addCodeButtons(code: HTMLElement, index: number): void {
  const pre = code.parentElement as HTMLElement;
  const language = /language-([\w+#-]+)/.exec(code.className)?.[1];
  const bar = document.createElement('div');
  bar.className = 'code-actions';
  const button = (label: string, title: string, message: () => FromWebview) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.title = title;
    b.setAttribute('aria-label', `${title} (code block ${index + 1})`);
    b.addEventListener('click', () => vscode.postMessage(message()));
    bar.appendChild(b);
  };
  const text = () => code.textContent ?? '';
  button('Copy', 'Copy code', () => ({ type: 'copy', code: text() }));
  button('Insert', 'Insert on lines of its own at the cursor', () => ({ type: 'insert', code: text() }));
  button('New file', 'Open as new file', () => ({ type: 'newFile', code: text(), language: language === 'text' ? undefined : language }));
  pre.before(bar);
}

function addTurn(turn: StoredTurn, attachedLabel?: string): HTMLElement {
  const el = document.createElement('article');
  el.className = `turn ${turn.role}${turn.stopped ? ' stopped' : ''}`;
  el.setAttribute('aria-label', turn.role === 'user' ? 'You' : 'NeoX');
  const who = document.createElement('div');
  who.className = 'who';
  who.textContent = turn.role === 'user' ? 'You' : 'NeoX';
  if (attachedLabel) {
    const a = document.createElement('span');
    a.className = 'attached';
    a.textContent = ` · with ${attachedLabel}`;
    who.appendChild(a);
  }
  const body = document.createElement('div');
  body.className = 'body';
  if (turn.role === 'user') body.textContent = turn.content;
  else body.appendChild(render(turn.content));
  el.append(who, body);
  log.appendChild(el);
  log.scrollTop = log.scrollHeight;
  return body;
}

/** Under an answer: the chat format it was written in, and what was left out to fit the context. */
function showInfo(body: HTMLElement, info: AnswerInfo): void {
  const turn = body.parentElement;
  if (!turn) return;
  turn.querySelector('.info')?.remove();
  if (!info.format && !info.notice && !info.sources?.length) return;
  const el = document.createElement('div');
  el.className = 'info';
  if (info.notice) {
    const notice = document.createElement('p');
    notice.className = 'notice';
    notice.setAttribute('role', 'note');
    notice.textContent = info.notice;
    el.appendChild(notice);
  }
  if (info.sources?.length) el.appendChild(sourceLinks(info.sources));
  if (info.format) {
    const format = document.createElement('span');
    format.className = 'format';
    format.textContent = `Format: ${info.format}`;
    el.appendChild(format);
  }
  turn.appendChild(el);
}

/** "Sources:" and a link per piece of workspace code the answer was given; a click opens it in the editor. */
function sourceLinks(sources: CodeLocation[]): HTMLElement {
  const p = document.createElement('p');
  p.className = 'sources';
  p.append('Sources: ');
  sources.forEach((s, i) => {
    const a = document.createElement('a');
    a.href = '#';
    a.textContent = `${s.path}:${s.startLine + 1}-${s.endLine + 1}`;
    a.title = `Open ${s.path} at line ${s.startLine + 1}`;
    a.addEventListener('click', (e) => {
      e.preventDefault();
      vscode.postMessage({ type: 'open', location: s });
    });
    p.append(...(i ? [', ', a] : [a]));
  });
  return p;
}

function setBusy(busy: boolean): void {
  stopBtn.disabled = !busy;
  sendBtn.disabled = busy;
  document.body.classList.toggle('busy', busy);
}

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  const m = event.data;
  switch (m.type) {
    case 'history':
      log.replaceChildren();
      for (const t of m.turns) showInfo(addTurn(t), t);
      setBusy(m.busy);
      break;
    case 'userTurn':
      addTurn(m.turn, m.attachedLabel);
      streaming = { el: addTurn({ role: 'assistant', content: '' }), text: '' };
      streaming.el.parentElement?.classList.add('streaming');
      setBusy(true);
      break;
    case 'delta':
      if (!streaming || streaming.stopRequested) break;
      streaming.text += m.text;
      streaming.el.replaceChildren(render(streaming.text));
      log.scrollTop = log.scrollHeight;
      break;
    case 'done':
      if (streaming) {
        const stopped = m.stopped || streaming.stopRequested;
        streaming.el.replaceChildren(render(m.content));
        streaming.el.parentElement?.classList.remove('streaming');
        if (stopped) streaming.el.parentElement?.classList.add('stopped');
        showInfo(streaming.el, m.info);
      }
      streaming = undefined;
      setBusy(false);
      input.focus();
      break;
    case 'error': {
      const target = streaming?.el ?? addTurn({ role: 'assistant', content: '' });
      const p = document.createElement('p');
      p.className = 'error';
      p.setAttribute('role', 'alert');
      p.textContent = `Error: ${m.message}`;
      target.appendChild(p);
      streaming?.el.parentElement?.classList.remove('streaming');
      streaming = undefined;
      setBusy(false);
      break;
    }
  }
});

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = input.value.trim();
  if (!text || sendBtn.disabled) return;
  vscode.postMessage({ type: 'send', text, attach: attach.value as Attach });
  input.value = '';
  attach.value = 'none';
});
input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    form.requestSubmit();
  }
});
function stop(): void {
  if (!streaming) return;
  streaming.stopRequested = true;
  vscode.postMessage({ type: 'stop' });
}
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && !stopBtn.disabled) stop();
});
stopBtn.addEventListener('click', stop);
clearBtn.addEventListener('click', () => vscode.postMessage({ type: 'clear' }));

vscode.postMessage({ type: 'ready' });
input.focus();
