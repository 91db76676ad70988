/**
 * The real-editor scenarios: the packaged extension, installed into a fresh code-server profile, with
 * the real default model. Each one leaves a screenshot under test-results/ and asserts on what ends up
 * on disk or in the DOM, never on timing.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FrameLocator, Locator } from 'playwright-core';
import { folderFiles, HubStandIn } from '../hub-stand-in';
import { until, type Workbench } from './harness/workbench';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ScenarioContext {
  wb: Workbench;
  workspace: string;
  /** The editor's HF_HUB_CACHE (a folder of the run, not the user's cache). */
  hfCache: string;
  /** Saves test-results/NAME.png: the whole window, or only `of` (e.g. the side bar). */
  shot(name: string, of?: Locator): Promise<string>;
  log(msg: string): void;
}

export interface Scenario {
  name: string;
  timeoutMs: number;
  run(ctx: ScenarioContext): Promise<void>;
}

const read = (ws: string, f: string) => readFileSync(join(ws, f), 'utf8');

async function saveAndRead(ctx: ScenarioContext, file: string, expectChange: (text: string) => boolean): Promise<string> {
  // Ctrl+S, then poll the disk: the save is asynchronous.
  await ctx.wb.page.keyboard.press('Control+S');
  return until(`${file} saved`, async () => {
    const t = read(ctx.workspace, file);
    return expectChange(t) ? t : undefined;
  }, 20_000);
}


/** Cells of every table rendered in any frame (the Markdown preview is a webview: a frame of its own). */
async function renderedTables(wb: Workbench): Promise<string[][][]> {
  const all: string[][][] = [];
  for (const frame of wb.page.frames()) {
    const tables = await frame
      .$$eval('table', (ts) => ts.map((t) => Array.from(t.querySelectorAll('tr'), (r) => Array.from(r.querySelectorAll('th, td'), (c) => (c.textContent ?? '').trim()))))
      .catch(() => [] as string[][][]);
    all.push(...tables);
  }
  return all;
}

/**
 * Runs "Show completion statistics", reads the counts from the rendered table (a real <table> in the
 * Markdown preview, not Markdown source in an editor), takes `shot`, and closes the preview.
 */
async function statistics(ctx: ScenarioContext, shot?: string): Promise<(label: string) => number> {
  const { wb } = ctx;
  await wb.runCommand('NeoX: Show completion statistics');
  const tab = wb.page.locator('.tab', { hasText: 'NeoX completion statistics' });
  await tab.first().waitFor({ timeout: 20_000 });
  const counts = await until('the statistics rendered as a table', async () => (await renderedTables(wb)).find((t) => t[0]?.[0] === 'Completions'), 20_000);
  ctx.log(`statistics table: ${JSON.stringify(counts)}`);
  assert.deepEqual(counts[0], ['Completions', 'Count'], 'a table with a header row');
  assert.ok(!(await wb.editorText()).includes('| Accepted |'), 'no Markdown source on screen');
  if (shot) await ctx.shot(shot);
  await wb.page.keyboard.press('Control+W');
  // An open preview would be a second webview frame for the chat scenario's locator.
  await until('the statistics preview closed', async () => (await tab.count()) === 0, 10_000);
  return (label) => Number(counts.find((r) => r[0] === label)?.[1]);
}

const sideBar = (wb: Workbench) => wb.page.locator('.part.sidebar');

/** What the chat view's layout looks like, measured inside its frame (CSS pixels of the webview). */
interface ChatLayout {
  /** The document and the conversation are no wider than the view (no horizontal scrollbar). */
  scroll: { docScroll: number; docClient: number; logScroll: number; logClient: number };
  /** Per control: its label fits (not cut to "Sto") and the element at its centre is itself. */
  controls: { id: string; textFits: boolean; hit: boolean }[];
  /** Code blocks scroll inside themselves and are no wider than the conversation. */
  pres: { overflowX: string; width: number }[];
}

async function chatLayout(chat: FrameLocator): Promise<ChatLayout> {
  // No named functions inside evaluate: tsx adds a __name helper that does not exist in the page.
  return chat.locator('body').evaluate((): ChatLayout => {
    const se = document.scrollingElement as HTMLElement;
    const log = document.getElementById('log') as HTMLElement;
    return {
      scroll: { docScroll: se.scrollWidth, docClient: se.clientWidth, logScroll: log.scrollWidth, logClient: log.clientWidth },
      controls: ['input', 'attach', 'clear', 'stop', 'send'].map((id) => {
        const el = document.getElementById(id) as HTMLElement;
        const r = el.getBoundingClientRect();
        const atCentre = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        return { id, textFits: el.scrollWidth <= el.clientWidth, hit: atCentre === el || el.contains(atCentre) };
      }),
      pres: Array.from(document.querySelectorAll('pre')).map((p) => ({ overflowX: getComputedStyle(p).overflowX, width: p.getBoundingClientRect().width })),
    };
  });
}

/**
 * Asserts that the whole composer (input, context, Clear, Stop, Send) lies inside the webview's frame
 * and can be clicked, with nothing wider than the view; returns the side bar's width for the log.
 */
async function assertChatFits(wb: Workbench, what: string): Promise<number> {
  const chat = wb.webview();
  const frame = await wb.page.locator('iframe.webview.ready').first().boundingBox();
  assert.ok(frame, 'the chat webview frame is on screen');
  for (const id of ['input', 'attach', 'clear', 'stop', 'send']) {
    const box = await chat.locator(`#${id}`).boundingBox();
    assert.ok(box, `#${id} is rendered (${what})`);
    const inside =
      box.x >= frame.x - 0.5 && box.y >= frame.y - 0.5 && box.x + box.width <= frame.x + frame.width + 0.5 && box.y + box.height <= frame.y + frame.height + 0.5;
    assert.ok(inside, `#${id} ${JSON.stringify(box)} lies inside the chat view ${JSON.stringify(frame)} (${what})`);
  }
  const layout = await chatLayout(chat);
  const { docScroll, docClient, logScroll, logClient } = layout.scroll;
  assert.ok(docScroll <= docClient, `no horizontal scrollbar: scrollWidth ${docScroll} <= clientWidth ${docClient} (${what})`);
  assert.ok(logScroll <= logClient, `the conversation is no wider than the view: ${logScroll} <= ${logClient} (${what})`);
  for (const c of layout.controls) {
    assert.ok(c.textFits, `#${c.id}'s label is not cut (${what})`);
    assert.ok(c.hit, `#${c.id} is not covered: a click at its centre reaches it (${what})`);
  }
  for (const p of layout.pres) {
    assert.equal(p.overflowX, 'auto', `code blocks scroll horizontally inside themselves (${what})`);
    assert.ok(p.width <= logClient, `a code block (${p.width} px) is no wider than the conversation (${logClient} px) (${what})`);
  }
  return (await sideBar(wb).boundingBox())?.width ?? 0;
}

/** Drags the side bar's right-hand sash until the side bar is `width` px wide; returns the new width. */
async function resizeSideBar(wb: Workbench, width: number): Promise<number> {
  const bar = await sideBar(wb).boundingBox();
  assert.ok(bar, 'the side bar is open');
  const { mouse } = wb.page;
  const y = bar.y + bar.height / 2;
  await mouse.move(bar.x + bar.width, y);
  await mouse.down();
  await mouse.move(bar.x + width, y, { steps: 8 });
  await mouse.up();
  return until(`the side bar ${width} px wide`, async () => {
    const w = (await sideBar(wb).boundingBox())?.width;
    return w !== undefined && Math.abs(w - width) <= 2 ? w : undefined;
  }, 5_000);
}

/** The indentation-independent check of Insert: `code`'s lines, less their common indentation, each prefixed by `indent`. */
function indentedBlock(code: string, indent: string): string[] {
  // Blank lines around the block are not inserted.
  const lines = code.replace(/\r\n/g, '\n').replace(/^\s*\n/, '').replace(/\s+$/, '').split('\n');
  const common = Math.min(...lines.filter((l) => l.trim()).map((l) => /^[ \t]*/.exec(l)![0].length));
  return lines.map((l) => (l.trim() ? indent + l.slice(common) : ''));
}

/** The workspace settings file, and a way to put it back as it was. */
function workspaceSettings(ctx: ScenarioContext): { file: string; settings: Record<string, unknown>; restore(): void } {
  const file = join(ctx.workspace, '.vscode', 'settings.json');
  const text = readFileSync(file, 'utf8');
  return { file, settings: JSON.parse(text) as Record<string, unknown>, restore: () => writeFileSync(file, text) };
}

/**
 * Records every text the NeoX status bar item shows from now on (window.__neoxStates), so that a state
 * as short as "generating" is seen however briefly it lasts.
 */
async function recordNeoxStates(wb: Workbench): Promise<void> {
  await wb.page.evaluate(() => {
    const w = window as unknown as { __neoxStates: string[] };
    w.__neoxStates = [];
    new MutationObserver(() => {
      for (const el of Array.from(document.querySelectorAll('.statusbar-item'))) {
        const text = (el.textContent ?? '').trim();
        if (text.includes('NeoX') && w.__neoxStates[w.__neoxStates.length - 1] !== text) w.__neoxStates.push(text);
      }
    }).observe(document.querySelector('.statusbar')!, { childList: true, subtree: true, characterData: true, attributes: true });
  });
}

const neoxStates = (wb: Workbench) => wb.page.evaluate(() => (window as unknown as { __neoxStates: string[] }).__neoxStates);

/** The Hub id the download scenario serves: shown as "downloaded-23m", unlike the built-in "neox-code-23m". */
const DOWNLOAD_REPO = 'neox-e2e/downloaded-23m';

export const scenarios: Scenario[] = [
  {
    name: 'ghost text appears while typing in a Python file, Tab writes it to disk and counts as accepted',
    timeoutMs: 180_000,
    async run(ctx) {
      const { wb } = ctx;
      await wb.quickOpen('main.py');
      const typed = 'def fibonacci(n):';
      await wb.page.keyboard.type(typed, { delay: 40 });
      await wb.page.keyboard.press('Enter');
      // Ghost text is requested automatically after the debounce; waiting covers the first model load.
      const ghost = await until('ghost text in the editor', async () => {
        const g = (await wb.ghostText()).trim();
        return g.length > 0 ? g : undefined;
      }, 150_000, 200);
      ctx.log(`ghost text: ${JSON.stringify(ghost.slice(0, 120))}`);
      await ctx.shot('1-ghost-text');
      await wb.page.keyboard.press('Tab');
      const firstGhostLine = ghost.split('\n')[0].trim();
      const saved = await saveAndRead(ctx, 'main.py', (t) => t.includes(typed) && t.length > typed.length + 2);
      ctx.log(`main.py after Tab + save: ${JSON.stringify(saved.slice(0, 200))}`);
      assert.ok(saved.startsWith(typed), 'the typed line is kept');
      assert.ok(saved.includes(firstGhostLine), `the accepted ghost text ${JSON.stringify(firstGhostLine)} is in the saved file`);
      // The accepted suggestion is gone; the editor may already offer the next one at the new position.
      const after = (await wb.ghostText()).trim();
      assert.ok(after === '' || !after.startsWith(firstGhostLine), `the accepted ghost text is not shown again (now ${JSON.stringify(after)})`);
      await ctx.shot('1-ghost-text-accepted');
      // Tab ran the item's command, which reported the acceptance to the server's statistics.
      const count = await statistics(ctx);
      assert.ok(count('Accepted') >= 1, 'the acceptance was counted');
    },
  },
  {
    name: 'accept-word takes part of a suggestion; shown, partially accepted and dismissed reach the statistics',
    timeoutMs: 120_000,
    async run(ctx) {
      const { wb } = ctx;
      await wb.quickOpen('main.py');
      await wb.page.keyboard.press('Control+End');
      await wb.page.keyboard.press('Enter');
      await wb.page.keyboard.press('Shift+Tab');
      await wb.page.keyboard.type('def add(a, b):', { delay: 40 });
      await wb.page.keyboard.press('Enter');
      await until('ghost text', async () => (await wb.ghostText()).trim().length > 0, 60_000, 200);
      // VS Code's accept-next-word takes leading whitespace as a word of its own: press until a word lands.
      let after = '';
      let previous = read(ctx.workspace, 'main.py');
      for (let i = 0; i < 3 && !after.trim(); i++) {
        await wb.page.keyboard.press('Control+ArrowRight');
        // The rendered line looks the same (the word moves from ghost to real text): check the disk.
        const saved = await saveAndRead(ctx, 'main.py', (t) => t.includes('def add(a, b):') && t !== previous);
        previous = saved;
        const lines = saved.split('\n');
        after = lines[lines.findIndex((l) => l.startsWith('def add(a, b):')) + 1] ?? '';
      }
      await ctx.shot('1-accept-word');
      ctx.log(`line after "def add(a, b):" once a word is accepted: ${JSON.stringify(after)}`);
      assert.ok(after.trim().length > 0, 'a word of the suggestion is in the file');
      await wb.page.keyboard.press('Escape');
      await until('the suggestion hidden', async () => (await wb.ghostText()).trim() === '', 5_000);
      const count = await statistics(ctx, '1-statistics');
      assert.ok(count('Shown') >= 1, 'shown completions counted');
      assert.ok(count('Partially accepted') >= 1, 'the accept-word was reported');
      assert.ok(count('Dismissed') >= 1, 'the escaped suggestion was reported dismissed');
    },
  },
  {
    name: 'a manual trigger (Alt+\\) offers several candidates and Alt+] cycles to the next one',
    timeoutMs: 90_000,
    async run(ctx) {
      const { wb } = ctx;
      await wb.quickOpen('cycle.py');
      await wb.page.keyboard.type('import os\n\ndef read_config(path):', { delay: 30 });
      await wb.page.keyboard.press('Enter');
      await wb.page.keyboard.press('Escape');
      await wb.page.keyboard.press('Alt+Backslash');
      const first = await until('ghost text after the manual trigger', async () => (await wb.ghostText()).trim() || undefined, 60_000, 200);
      // VS Code's inline toolbar counts the candidates ("1/3").
      await wb.page.keyboard.press('Alt+BracketRight');
      const second = await until('another candidate', async () => {
        const g = (await wb.ghostText()).trim();
        return g && g !== first ? g : undefined;
      }, 20_000, 200);
      ctx.log(`candidate 1: ${JSON.stringify(first.slice(0, 80))}; candidate 2: ${JSON.stringify(second.slice(0, 80))}`);
      await ctx.shot('2-cycling');
      await wb.page.keyboard.press('Escape');
    },
  },
  {
    name: '"Generate code from comment" on "# return the sum of a list" inserts code below it',
    timeoutMs: 150_000,
    async run(ctx) {
      const { wb } = ctx;
      const comment = '# return the sum of a list';
      await wb.quickOpen('sum.py');
      await wb.page.keyboard.press('Control+Home');
      await wb.page.keyboard.press('End');
      await wb.runCommand('NeoX: Generate code from comment');
      const text = await until('generated code below the comment', async () => {
        const t = await wb.editorText();
        const below = t.split('\n').slice(1).join('\n').trim();
        const busy = await wb.notification('generating code from comment').count();
        return below.length > 0 && busy === 0 ? t : undefined;
      }, 120_000, 250);
      await ctx.shot('2-generate-from-comment');
      const saved = await saveAndRead(ctx, 'sum.py', (t) => t.trim() !== comment);
      ctx.log(`sum.py: ${JSON.stringify(saved.slice(0, 300))}`);
      const lines = saved.split('\n');
      assert.equal(lines[0], comment, 'the comment stays on the first line');
      assert.ok(lines.slice(1).some((l) => l.trim().length > 0), 'code was inserted below the comment');
      assert.ok(text.length > 0);
    },
  },
  {
    name: 'the chat sidebar fits its default width, streams an answer and "Insert" puts its code block on lines of its own',
    timeoutMs: 240_000,
    async run(ctx) {
      const { wb, page } = { wb: ctx.wb, page: ctx.wb.page };
      // Insert goes below the cursor's line (which has text), indented like it, not joined onto it.
      const target = ['def is_palindrome(s):', '    return s == s[::-1]'];
      writeFileSync(join(ctx.workspace, 'chat_target.py'), `${target.join('\n')}\n`);
      await wb.quickOpen('chat_target.py');
      await page.keyboard.press('Control+Home');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('End');
      for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowLeft');
      await page.locator('.activitybar .action-item a[aria-label^="NeoX Chat"]').click();
      const chat = wb.webview();
      const input = chat.locator('#input');
      await input.waitFor({ timeout: 60_000 });
      const defaultWidth = await assertChatFits(wb, 'default side bar, empty chat');
      ctx.log(`side bar at its default width: ${defaultWidth} px; composer inside the view`);
      // Record every rendering of the answer: streaming means it grew in several steps.
      await chat.locator('body').evaluate(() => {
        const w = window as unknown as { __lens: number[] };
        w.__lens = [];
        new MutationObserver(() => {
          const body = document.querySelector('.turn.assistant.streaming .body');
          if (body) w.__lens.push((body.textContent ?? '').length);
        }).observe(document.getElementById('log')!, { childList: true, subtree: true, characterData: true });
      });
      // The tiny default model answers in fenced code only when the question shows one (measured with
      // `neox generate` on its chat template); a real chat model needs no such hint.
      await input.fill('Example:\n```python\ndef add(a, b):\n    return a + b\n```\nNow write a function that sums a list.');
      // Send by a real click: it must be reachable at this width (Enter would hide a Send off screen).
      await chat.locator('#send').click();
      const answer = chat.locator('.turn.assistant').last();
      await answer.waitFor();
      await until('the answer to finish', async () => (await chat.locator('.turn.assistant.streaming').count()) === 0 && (await answer.innerText()).length > 5, 150_000);
      const lens = await chat.locator('body').evaluate(() => (window as unknown as { __lens: number[] }).__lens);
      const steps = new Set(lens.filter((n) => n > 0)).size;
      ctx.log(`answer rendered in ${steps} growing steps; answer: ${JSON.stringify((await answer.innerText()).slice(0, 300))}`);
      assert.ok(steps >= 2, `the answer streamed (saw ${steps} partial renderings)`);
      const code = answer.locator('pre code').first();
      await code.waitFor({ timeout: 5000 });
      const codeText = (await code.textContent()) ?? '';
      assert.ok(codeText.trim().length > 0, 'the answer has a code block');
      // Model output is untrusted: nothing executable may survive sanitising.
      assert.equal(await chat.locator('.turn.assistant script, .turn.assistant [onerror], .turn.assistant [onclick]').count(), 0);
      await assertChatFits(wb, 'default side bar, answer with a code block');
      await ctx.shot('3-chat-answer');
      await ctx.shot('chat-default-width', sideBar(wb));
      await answer.locator('.code-actions button', { hasText: 'Insert' }).first().click();
      const firstCodeLine = codeText.split('\n').find((l) => l.trim())!.trim();
      await until('the code block in the editor', async () => ((await wb.editorText()).includes(firstCodeLine) ? true : undefined), 20_000);
      await wb.focusEditor();
      const onDisk = await saveAndRead(ctx, 'chat_target.py', (t) => t.includes(firstCodeLine));
      const expected = [...target, ...indentedBlock(codeText, '    '), ''].join('\n');
      ctx.log(`chat_target.py after Insert: ${JSON.stringify(onDisk.slice(0, 300))}`);
      assert.equal(onDisk.replace(/\r\n/g, '\n'), expected, 'the block follows the cursor line on lines of its own, at its indentation');
      await ctx.shot('3-chat-inserted');

      // Stop: a second question, stopped while it streams. The tiny model can finish an answer in well
      // under a second, so a click sent from here could land after the answer ended (seen: Stop already
      // disabled again). The view clicks Stop itself the moment it is enabled (the question was accepted
      // and the answer is streaming); that Stop is on screen and reachable is asserted above.
      await chat.locator('#stop').evaluate((stop) => {
        const button = stop as HTMLButtonElement;
        new MutationObserver((_, observer) => {
          if (button.disabled) return;
          observer.disconnect();
          button.click();
        }).observe(button, { attributes: true, attributeFilter: ['disabled'] });
      });
      await input.fill('Explain Python lists in detail.');
      await input.press('Enter');
      await chat.locator('.turn.assistant.stopped').waitFor({ timeout: 20_000 });
      ctx.log(`stopped answer: ${JSON.stringify((await chat.locator('.turn.assistant.stopped').last().innerText()).slice(0, 200))}`);
      assert.equal(await chat.locator('#send').isDisabled(), false, 'ready for the next question');
      await ctx.shot('3-chat-stopped');

      // The conversation is kept per workspace across a window reload.
      const turnsBefore = await chat.locator('.turn').count();
      await wb.runCommand('Developer: Reload Window');
      await wb.ready();
      // The extension's status item means its contributions (the view's focus command) are registered;
      // runCommand still retries the palette lookup, which can miss a command registered meanwhile.
      await wb.waitForNeoxState(/NeoX/, 60_000);
      // Focus the view by its command: clicking the activity-bar icon toggles, and races the side bar's restore.
      await wb.runCommand('NeoX Chat: Focus on Chat View');
      await until('the conversation after reload', async () => (await wb.webview().locator('.turn').count()) === turnsBefore, 60_000);
      await ctx.shot('3-chat-after-reload');

      // The narrowest side bar the chat promises to fit, with the conversation (code block included) shown.
      const narrow = await resizeSideBar(wb, 200);
      await assertChatFits(wb, `side bar ${narrow} px`);
      ctx.log(`side bar dragged to ${narrow} px; composer inside the view, nothing wider than it`);
      await ctx.shot('chat-200px', sideBar(wb));
      await resizeSideBar(wb, defaultWidth);
    },
  },
  {
    name: 'the status bar shows model, precision, backend and state; a click opens the NeoX menu; the model picker shows names, not paths',
    timeoutMs: 60_000,
    async run(ctx) {
      const { wb } = ctx;
      const quant = process.env.NEOX_E2E_QUANT ?? 'int8';
      const text = await wb.waitForNeoxState('ready', 60_000);
      ctx.log(`status bar: ${JSON.stringify(text)}`);
      assert.ok(text.includes(`neox-code-23m (${quant}, local) · ready`), `model, precision and backend in ${JSON.stringify(text)}`);
      assert.ok(!text.includes('/'), 'no path in the status bar');
      await wb.statusItem(/NeoX/).first().click();
      const row = wb.page.locator('.quick-input-list .monaco-list-row', { hasText: 'Select model / backend' });
      await row.waitFor({ timeout: 10_000 });
      for (const label of ['Snooze completions', 'Show completion statistics', 'Open chat', 'Set API key']) {
        assert.equal(await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: label }).count(), 1, `menu has ${label}`);
      }
      await ctx.shot('5-status-menu');
      // Its "Select model / backend" lists the built-in model by name, a local folder and the remote backends.
      await row.click();
      for (const label of ['neox-code-23m', 'Local checkpoint folder', 'OpenAI-compatible server', 'Text Generation Inference server']) {
        await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first().waitFor({ timeout: 10_000 });
      }
      // Each row's label (not its detail line, where a folder may appear) is a name.
      const rows = await wb.page.locator('.quick-input-list .monaco-list-row').evaluateAll((els) =>
        els.map((el) => ({
          label: Array.from(el.querySelectorAll('.label-name')).filter((n) => !n.closest('.quick-input-list-label-meta')).map((n) => (n.textContent ?? '').trim()).join(' '),
          description: (el.querySelector('.label-description')?.textContent ?? '').trim(),
        })),
      );
      ctx.log(`model picker: ${JSON.stringify(rows)}`);
      const builtIn = rows.find((r) => r.label.endsWith('neox-code-23m'));
      assert.ok(builtIn, 'the built-in model is listed by its name');
      assert.match(builtIn.description, /built in.*current/, 'marked built in and current');
      assert.equal(rows.filter((r) => r.label.includes('neox-code-23m')).length, 1, 'listed once');
      for (const r of rows) assert.ok(!/[\\/]/.test(r.label), `no path as a label: ${JSON.stringify(r.label)}`);
      await ctx.shot('5-select-model');
      await wb.page.keyboard.press('Escape');
    },
  },
  {
    name: 'a model folder that does not exist shows the error once; the editor keeps working; a good model again clears it',
    timeoutMs: 150_000,
    async run(ctx) {
      const { wb, workspace } = ctx;
      const missing = join(workspace, 'no-such-model');
      const settingsFile = join(workspace, '.vscode', 'settings.json');
      const settings = JSON.parse(readFileSync(settingsFile, 'utf8')) as Record<string, unknown>;
      const neoxItem = wb.statusItem(/NeoX/).first();
      try {
        // A live settings change, as a user editing settings.json would make it.
        writeFileSync(settingsFile, JSON.stringify({ ...settings, 'neoxComplete.modelPath': missing }, null, 2));
        const toast = wb.notification(/NeoX Complete:.*no-such-model/);
        await toast.first().waitFor({ timeout: 90_000 });
        const message = await toast.first().innerText();
        ctx.log(`notification: ${JSON.stringify(message.slice(0, 300))}`);
        for (const fix of ['Open Settings', 'Show Logs']) {
          assert.ok((await toast.first().locator('a, .monaco-button', { hasText: fix }).count()) > 0, `the notification offers ${fix}`);
        }
        const state = await wb.waitForNeoxState('error', 30_000);
        ctx.log(`status bar: ${JSON.stringify(state)}`);
        assert.match(state, /no-such-model \(\w+, local\) · error/, 'the status bar names the model folder, not its path');
        assert.match((await neoxItem.getAttribute('class')) ?? '', /error-kind/, 'the status bar item has the error background');
        await ctx.shot('4-missing-model-error');
        // The editor still works: type, save, read back.
        await wb.quickOpen('notes.txt');
        await wb.page.keyboard.type('still editing', { delay: 20 });
        const saved = await saveAndRead(ctx, 'notes.txt', (t) => t.includes('still editing'));
        assert.equal(saved, 'still editing');
        assert.equal(await wb.notification('no-such-model').count(), 1, 'the error was notified once, not once per status refresh or failed request');
        await ctx.shot('4-editor-still-works');

        // The good model again: the error goes away by itself, notification and status bar both.
        writeFileSync(settingsFile, JSON.stringify(settings, null, 2));
        await wb.waitForNeoxState('ready', 90_000);
        // No toast about it at all: neither ours nor the language client's "Request ... failed".
        await until('the error notifications withdrawn', async () => (await wb.notification('no-such-model').count()) === 0, 20_000);
        assert.doesNotMatch((await neoxItem.getAttribute('class')) ?? '', /error-kind/, 'no error background once ready');
        assert.equal(await wb.page.locator('.notifications-center .notification-list-item', { hasText: 'no-such-model' }).count(), 0, 'nothing left in the notification center');
        await ctx.shot('4-error-cleared');
      } finally {
        writeFileSync(settingsFile, JSON.stringify(settings, null, 2));
      }
    },
  },
  {
    name: '"NeoX: Download model" from a Hub stand-in shows its progress, then the first completion comes from the downloaded model',
    timeoutMs: 240_000,
    async run(ctx) {
      const { wb } = ctx;
      const page = wb.page;
      // The default model's files under another name, on loopback; the largest shard pauses half-way
      // until the progress notification has been seen.
      const files = folderFiles(join(root, 'models', 'neox-code-23m'));
      const shard = files.filter((f) => f.lfs).sort((a, b) => b.bytes.length - a.bytes.length)[0]!;
      const commit = 'd0a1d0a1d0a1d0a1d0a1d0a1d0a1d0a1d0a1d0a1';
      let release = () => {};
      const hub = new HubStandIn({ [DOWNLOAD_REPO]: { commit, files } });
      hub.hold = { path: shard.path, at: Math.floor(shard.bytes.length / 2), release: new Promise<void>((r) => (release = r)) };
      const repoCache = join(ctx.hfCache, `models--${DOWNLOAD_REPO.replace('/', '--')}`);
      rmSync(repoCache, { recursive: true, force: true });
      const ws = workspaceSettings(ctx);
      await hub.start();
      try {
        await wb.waitForNeoxState(/neox-code-23m \(\w+, local\) · ready/, 90_000);
        // The Hub id as the model and the stand-in as the Hub, in one write: the server has both once
        // its status names the model as not downloaded.
        writeFileSync(ws.file, JSON.stringify({ ...ws.settings, 'neoxComplete.hubUrl': hub.hubUrl, 'neoxComplete.backend': 'local', 'neoxComplete.modelPath': DOWNLOAD_REPO }, null, 2));
        const missing = await wb.waitForNeoxState(/downloaded-23m \(\w+, local\) · error/, 60_000);
        ctx.log(`status bar before the download: ${JSON.stringify(missing)}`);
        // The user is offered the download; they use the command instead.
        const offer = wb.notification(/Download neox-e2e\/downloaded-23m from Hugging Face now\?/).first();
        await offer.waitFor({ timeout: 30_000 });
        await offer.locator('.monaco-button', { hasText: 'Not now' }).click();
        assert.equal(hub.requests.length, 0, 'nothing was downloaded before the user asked');

        await wb.runCommand('NeoX: Download model');
        const box = page.locator('.quick-input-widget input');
        await box.waitFor();
        await box.fill(DOWNLOAD_REPO);
        await page.keyboard.press('Enter');
        const toast = wb.notification(/Downloading neox-e2e\/downloaded-23m/).first();
        // The first report is 0%; the paused shard holds it below 100% until released.
        const shown = await until('the progress notification with a percentage above 0', async () => {
          const t = await toast.innerText();
          const pct = /(\d+)% · [\d.]+ [kM]?B of 4\d\.\d MB/.exec(t)?.[1];
          return pct && Number(pct) > 0 ? t : undefined;
        }, 60_000, 100);
        ctx.log(`progress notification: ${JSON.stringify(shown)}`);
        const pct = Number(/(\d+)% ·/.exec(shown)![1]);
        assert.ok(pct < 100, `a download in progress (${pct}%)`);
        assert.match(shown, /\d\/6 files/, 'the files done out of the six a model needs');
        assert.ok((await toast.locator('.monaco-button', { hasText: 'Cancel' }).count()) > 0, 'the download can be cancelled');
        await ctx.shot('7-download-progress');
        release();

        const done = wb.notification(/neox-e2e\/downloaded-23m downloaded \(4\d\.\d MB\)\. Loading it now\./).first();
        await done.waitFor({ timeout: 60_000 });
        await until('the progress notification closed', async () => (await toast.count()) === 0, 20_000);
        const snapshot = join(repoCache, 'snapshots', commit);
        for (const f of files.filter((x) => x.path !== '.gitattributes' && x.path !== 'README.md')) {
          assert.equal(statSync(join(snapshot, f.path)).size, f.bytes.length, `${f.path} in the temporary Hugging Face cache`);
        }
        assert.equal(readFileSync(join(repoCache, 'refs', 'main'), 'utf8'), commit);
        const ready = await wb.waitForNeoxState(/downloaded-23m \(\w+, local\) · ready/, 120_000);
        ctx.log(`status bar after the download: ${JSON.stringify(ready)}`);

        await wb.quickOpen('downloaded.py');
        // The server shows "generating" with the model that generates, for each completion.
        await recordNeoxStates(wb);
        await page.keyboard.type('def fibonacci(n):', { delay: 40 });
        await page.keyboard.press('Enter');
        const ghost = await until('ghost text from the downloaded model', async () => (await wb.ghostText()).trim() || undefined, 90_000, 200);
        ctx.log(`ghost text: ${JSON.stringify(ghost.slice(0, 120))}`);
        const states = await until('the status bar back to ready', async () => {
          const all = await neoxStates(wb);
          return /· ready/.test(all[all.length - 1] ?? '') ? all : undefined;
        }, 20_000);
        ctx.log(`status bar while completing: ${JSON.stringify(states)}`);
        const models = new Set(states.map((t) => /NeoX: (\S+) \(/.exec(t)?.[1]));
        assert.ok(states.some((t) => /NeoX: downloaded-23m \(\w+, local\) · generating/.test(t)), 'the downloaded model generated');
        assert.deepEqual([...models], ['downloaded-23m'], 'no other model shown meanwhile');
        await ctx.shot('7-download-completion');
        await page.keyboard.press('Escape');
        await page.keyboard.press('Control+A');
        await page.keyboard.press('Backspace');
        await page.keyboard.press('Control+S');
        await until('downloaded.py saved empty again', async () => read(ctx.workspace, 'downloaded.py') === '' && (await page.locator('.tab.dirty', { hasText: 'downloaded.py' }).count()) === 0, 20_000);
        ws.restore();
        await wb.waitForNeoxState(/neox-code-23m \(\w+, local\) · ready/, 90_000);
      } finally {
        release();
        ws.restore();
        await hub.stop();
        await wb.runCommand('Notifications: Clear All Notifications').catch(() => undefined);
      }
    },
  },
  {
    name: 'a Chinese chat question is shown unbroken, its answer streams back, and both are kept across a window reload',
    timeoutMs: 180_000,
    async run(ctx) {
      const { wb } = ctx;
      const question = '用 Python 写一个函数，返回列表的和';
      // By command: the activity-bar icon toggles, and would close a chat view another scenario left open.
      await wb.runCommand('NeoX Chat: Focus on Chat View');
      const chat = wb.webview();
      const input = chat.locator('#input');
      await input.waitFor({ timeout: 60_000 });
      await chat.locator('#clear').click();
      await until('an empty conversation', async () => (await chat.locator('.turn').count()) === 0, 10_000);
      // Every rendering of the answer while it streams: none may show a character cut in half.
      await chat.locator('body').evaluate(() => {
        const w = window as unknown as { __renders: string[] };
        w.__renders = [];
        new MutationObserver(() => {
          const body = document.querySelector('.turn.assistant.streaming .body');
          if (body) w.__renders.push(body.textContent ?? '');
        }).observe(document.getElementById('log')!, { childList: true, subtree: true, characterData: true });
      });
      // Typed as an input method commits text (playwright inserts characters off the keyboard layout).
      await input.pressSequentially(question, { delay: 20 });
      assert.equal(await input.inputValue(), question, 'the composer holds the question as typed');
      await input.press('Enter');
      const asked = chat.locator('.turn.user .body').last();
      await asked.waitFor({ timeout: 10_000 });
      const answer = chat.locator('.turn.assistant').last();
      await until('the answer to finish', async () => (await chat.locator('.turn.assistant.streaming').count()) === 0 && (await answer.count()) > 0, 120_000);
      const shownQuestion = await asked.textContent();
      const answerText = ((await answer.locator('.body').textContent()) ?? '').trim();
      const renders = await chat.locator('body').evaluate(() => (window as unknown as { __renders: string[] }).__renders);
      ctx.log(`question shown: ${JSON.stringify(shownQuestion)}; answer (${renders.length} renderings while streaming): ${JSON.stringify(answerText.slice(0, 300))}`);
      assert.equal(shownQuestion, question, 'the question is shown exactly as typed');
      assert.equal(await answer.locator('.error').count(), 0, 'no error instead of an answer');
      assert.doesNotMatch((await answer.getAttribute('class')) ?? '', /stopped/);
      assert.ok(answerText.length > 0, 'an answer appeared');
      assert.ok(new Set(renders.filter((r) => r.trim())).size >= 2, `the answer streamed (${renders.length} renderings)`);
      if (!answerText.includes('\uFFFD')) {
        for (const r of renders) assert.ok(!r.includes('\uFFFD'), `no half character while streaming: ${JSON.stringify(r.slice(-40))}`);
      }
      await ctx.shot('8-chat-chinese');

      // Stored per workspace: after a window reload the view shows the same two turns, text intact.
      await wb.runCommand('Developer: Reload Window');
      await wb.ready();
      await wb.waitForNeoxState(/NeoX/, 60_000);
      await wb.runCommand('NeoX Chat: Focus on Chat View');
      const after = wb.webview();
      await until('the stored conversation after reload', async () => (await after.locator('.turn').count()) === 2, 60_000);
      assert.equal(await after.locator('.turn.user .body').first().textContent(), question, 'the stored question keeps its Chinese text');
      assert.equal(((await after.locator('.turn.assistant .body').first().textContent()) ?? '').trim(), answerText, 'the stored answer is the one streamed');
      await ctx.shot('8-chat-chinese-after-reload');
      // Leave what a fresh window has: no conversation, the Explorer in the side bar.
      await after.locator('#clear').click();
      await until('the conversation cleared', async () => (await after.locator('.turn').count()) === 0, 10_000);
      await wb.runCommand('View: Show Explorer');
    },
  },
  {
    name: 'the workspace index: "NeoX: Search workspace" finds a function in a file that is not open and opens it; a chat question about it lists that file, and its link opens it',
    timeoutMs: 240_000,
    async run(ctx) {
      const { wb } = ctx;
      const file = 'billing/late_fees.py';
      mkdirSync(join(ctx.workspace, 'billing'), { recursive: true });
      const source = [
        '"""Fees for invoices paid after their due date."""',
        '',
        'DAILY_RATE = 0.0005',
        '',
        '',
        'def compute_late_fee(days_overdue, amount_due):',
        '    """The fee owed on amount_due after days_overdue days, capped at 10% of it."""',
        '    if days_overdue <= 0:',
        '        return 0.0',
        '    return min(amount_due * DAILY_RATE * days_overdue, amount_due * 0.10)',
      ];
      writeFileSync(join(ctx.workspace, file), `${source.join('\n')}\n`);
      // The index follows new files in the background: ask again until it has this one.
      await wb.runCommand('NeoX: Search workspace');
      const input = wb.page.locator('.quick-input-widget input');
      const row = wb.page.locator('.quick-input-list .monaco-list-row', { hasText: 'late_fees.py' }).first();
      await until(
        'the search to find compute_late_fee',
        async () => {
          await input.fill('');
          await input.fill('compute_late_fee');
          return row.waitFor({ timeout: 2_000 }).then(() => true, () => undefined);
        },
        120_000,
        500,
      );
      ctx.log(`search row: ${JSON.stringify(await row.innerText())}`);
      // The row is named by the definition tree-sitter found (the parse worker runs in the package).
      assert.match(await row.innerText(), /compute_late_fee/);
      await ctx.shot('9-search-workspace');
      await row.click();
      await wb.page.locator('.tab.active', { hasText: 'late_fees.py' }).waitFor({ timeout: 20_000 });
      assert.match(await wb.editorText(), /def compute_late_fee/, 'the result opened at the function');
      // Closed again: the chat question is about a file that is not open.
      await wb.page.keyboard.press('Control+W');
      await wb.page.locator('.tab', { hasText: 'late_fees.py' }).waitFor({ state: 'detached', timeout: 10_000 });

      await wb.runCommand('NeoX Chat: Focus on Chat View');
      const chat = wb.webview();
      await chat.locator('#input').waitFor({ timeout: 60_000 });
      await chat.locator('#clear').click();
      await until('an empty conversation', async () => (await chat.locator('.turn').count()) === 0, 10_000);
      await chat.locator('#input').fill('What does compute_late_fee charge for an overdue invoice?');
      await chat.locator('#input').press('Enter');
      const answer = chat.locator('.turn.assistant').last();
      await until('the answer to finish', async () => (await chat.locator('.turn.assistant.streaming').count()) === 0 && (await answer.count()) > 0, 150_000);
      const link = answer.locator('.sources a', { hasText: file });
      await link.waitFor({ timeout: 10_000 });
      ctx.log(`sources: ${JSON.stringify(await answer.locator('.sources').innerText())}`);
      await ctx.shot('9-chat-sources');
      await link.click();
      await wb.page.locator('.tab.active', { hasText: 'late_fees.py' }).waitFor({ timeout: 20_000 });
      assert.match(await wb.editorText(), /compute_late_fee/, 'the link opened the file at its lines');
      await ctx.shot('9-chat-source-opened');
      // Leave what a fresh window has: no conversation, no editor, the Explorer in the side bar.
      await chat.locator('#clear').click();
      await wb.page.keyboard.press('Control+W');
      await wb.runCommand('View: Show Explorer');
    },
  },
];
