// The chat view's answer layout, measured in headless Chromium: the webview script (bundled with esbuild
// for the browser, as dist/webview/chat.js) and chat.css in a side-bar-wide page, fed answers a small model
// really wrote. Every code block is one scrolling `pre.hljs` no wider than the conversation, code lines
// keep their line breaks, and prose (also inside nested quotes and lists) keeps most of the view's width
// and wraps there: no column a few words wide, no word split across lines.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as esbuild from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser } from '../e2e/harness/workbench';

/** The elements main.ts looks up (client/chat/html.ts has the same ids). */
const BODY = `<main id="log"></main>
<form id="composer"><textarea id="input"></textarea>
  <div class="row"><div class="context"><select id="attach"><option value="none">No context</option></select></div>
  <div class="actions"><button type="button" id="clear">Clear</button><button type="button" id="stop">Stop</button><button type="submit" id="send">Send</button></div></div>
</form>`;

let browser: Browser;
let page: Page;
before(async () => {
  const bundle = await esbuild.build({
    entryPoints: ['client/chat/webview/main.ts'],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  const script = bundle.outputFiles[0]!.text;
  const css = readFileSync('client/chat/webview/chat.css', 'utf8');
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 300, height: 800 } });
  // The extension side of the webview: a stub that only records what the view posts.
  await page.setContent(`<!DOCTYPE html><html><head><style>${css}</style></head><body>${BODY}
<script>window.acquireVsCodeApi = () => ({ postMessage() {}, getState() {}, setState() {} });</script>
<script>${script.replace(/<\/script/gi, '<\\/script')}</script></body></html>`);
});
after(() => browser?.close());

interface Measured {
  logWidth: number;
  logScrollWidth: number;
  pres: { width: number; overflowX: string; lines: string[]; buttons: number }[];
  /** Prose blocks (paragraphs, list items) holding text: their width and the words that span two lines. */
  prose: { tag: string; width: number; text: string; splitWords: string[] }[];
}

/** Shows one answer (as a stored conversation) and measures its layout. */
async function show(answer: string): Promise<Measured> {
  await page.evaluate((content) => {
    document.getElementById('log')!.replaceChildren();
    window.postMessage({ type: 'history', busy: false, turns: [{ role: 'user', content: 'q' }, { role: 'assistant', content }] }, '*');
  }, answer);
  await page.locator('.turn.assistant .body').waitFor();
  // No named functions inside evaluate: tsx adds a __name helper that does not exist in the page.
  return page.evaluate((): Measured => {
    const log = document.getElementById('log') as HTMLElement;
    const body = document.querySelector('.turn.assistant .body') as HTMLElement;
    const prose = Array.from(body.querySelectorAll('p, li')).filter((el) => !el.querySelector('p, li') && (el.textContent ?? '').trim() !== '');
    return {
      logWidth: log.clientWidth,
      logScrollWidth: log.scrollWidth,
      pres: Array.from(body.querySelectorAll('pre')).map((p) => ({
        width: p.getBoundingClientRect().width,
        overflowX: getComputedStyle(p).overflowX,
        lines: (p.textContent ?? '').replace(/\n$/, '').split('\n'),
        buttons: p.previousElementSibling?.classList.contains('code-actions') ? p.previousElementSibling.querySelectorAll('button').length : 0,
      })),
      prose: prose.map((el) => {
        // A word split across lines: its characters' boxes lie on more than one line.
        const splitWords: string[] = [];
        const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
          const text = node.textContent ?? '';
          for (const m of text.matchAll(/\S+/g)) {
            const range = document.createRange();
            range.setStart(node, m.index!);
            range.setEnd(node, m.index! + m[0].length);
            const tops = new Set(Array.from(range.getClientRects()).map((r) => Math.round(r.top)));
            if (tops.size > 1 && m[0].length < 25) splitWords.push(m[0]);
          }
        }
        return { tag: el.tagName, width: el.getBoundingClientRect().width, text: (el.textContent ?? '').slice(0, 40), splitWords };
      }),
    };
  });
}

function assertFits(m: Measured, what: string): void {
  assert.ok(m.logScrollWidth <= m.logWidth, `the conversation is no wider than the view: ${m.logScrollWidth} <= ${m.logWidth} (${what})`);
  for (const p of m.pres) {
    assert.equal(p.overflowX, 'auto', `a code block scrolls sideways inside itself (${what})`);
    assert.ok(p.width <= m.logWidth, `a code block (${p.width} px) is no wider than the conversation (${m.logWidth} px) (${what})`);
    assert.equal(p.buttons, 3, `a code block has Copy / Insert / New file (${what})`);
  }
  for (const p of m.prose) {
    assert.ok(p.width >= m.logWidth * 0.6, `prose keeps most of the view's width: <${p.tag}> "${p.text}" is ${p.width} px of ${m.logWidth} (${what})`);
    assert.deepEqual(p.splitWords, [], `no word split across lines in "${p.text}" (${what})`);
  }
}

test('a Python session (">>> " lines) after a "=====" line is one code block, not quotes three deep', async () => {
  // What neox-code-23m answered to a Chinese question in the real-editor run.
  const session = ['>>> from sympy import symbols', '>>> from sympy.abc import x, y', '>>> from sympy import symbols', '>>> from sympy.abc import x, y'];
  const m = await show(`=============\nThe following example is a simple example:\n\n${session.join('\n')}\n`);
  assertFits(m, 'python session');
  assert.equal(m.pres.length, 1, `one code block: ${JSON.stringify(m)}`);
  assert.deepEqual(m.pres[0]!.lines, session, 'the session keeps its lines and prompts');
});

test('an indented code block with a long line scrolls inside itself like a fenced one', async () => {
  const long = `    return "${'long-line '.repeat(20).trim()}"`;
  const m = await show(`=====\n\n    def answer():\n${long}\n\nAnd after it, prose wraps inside the view as usual.`);
  assertFits(m, 'indented code');
  assert.equal(m.pres.length, 1, `one code block: ${JSON.stringify(m)}`);
  assert.deepEqual(m.pres[0]!.lines, ['def answer():', long.slice(4)], 'code lines are not wrapped');
});

test('prose nested in quotes and lists, and a long unbroken line, wrap at the view\'s width', async () => {
  const words = 'the quick brown fox jumps over the lazy dog and keeps running far away';
  const m = await show(
    [`> > > ${words}`, '', `- one\n  - two\n    - three\n      - ${words}`, '', '='.repeat(120), '', `1. first\n   1. second\n      1. ${words}`].join('\n'),
  );
  assertFits(m, 'nested prose');
  assert.ok(m.prose.some((p) => p.text.startsWith('the quick')), `the nested prose was rendered: ${JSON.stringify(m.prose)}`);
});

test('Chinese is drawn in a CJK font (scripts/system-deps.mjs installs one), not as empty boxes', async () => {
  const question = '用 Python 写一个函数，返回列表的和';
  await page.evaluate((content) => {
    document.getElementById('log')!.replaceChildren();
    window.postMessage({ type: 'history', busy: false, turns: [{ role: 'user', content }] }, '*');
  }, question);
  const body = page.locator('.turn.user .body');
  await body.waitFor();
  // Each Han character drawn alone in the turn's font: without a font that has them, every one is the
  // same missing-glyph box.
  const drawings = await body.evaluate((el) => {
    const canvas = document.createElement('canvas');
    canvas.width = 48;
    canvas.height = 48;
    const g = canvas.getContext('2d')!;
    const style = getComputedStyle(el);
    g.font = `32px ${style.fontFamily}`;
    const out: string[] = [];
    for (const ch of new Set(Array.from(el.textContent ?? '').filter((c) => /\p{Script=Han}/u.test(c)))) {
      g.clearRect(0, 0, 48, 48);
      g.fillText(ch, 4, 36);
      out.push(canvas.toDataURL());
    }
    return out;
  });
  assert.equal(drawings.length, 12, 'the distinct Han characters of the question');
  assert.equal(new Set(drawings).size, drawings.length, 'every Chinese character has a glyph of its own (fonts-wqy-microhei: node scripts/system-deps.mjs)');
});
