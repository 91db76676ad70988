/**
 * Driving the VS Code workbench in Chromium (playwright-core). Every step waits for the element it
 * needs (the quick-open row, the notification, the webview frame) instead of sleeping: typing + Enter
 * in quick open flaked; waiting for the row and clicking it did not (real-editor-testing.md).
 */
import { existsSync } from 'node:fs';
import type { Browser, FrameLocator, Locator, Page } from 'playwright-core';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.NEOX_CHROMIUM ?? '/usr/bin/chromium';

/** Headless Debian Chromium with a fresh temporary profile (flags from real-editor-testing.md). */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it (apt-get install chromium, as .ci/run does) or set NEOX_CHROMIUM`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export class Workbench {
  constructor(readonly page: Page) {}

  async ready(timeout = 60_000): Promise<void> {
    await this.page.locator('.monaco-workbench').waitFor({ timeout });
    await this.page.locator('.statusbar').waitFor({ timeout });
  }

  statusItem(text: string | RegExp): Locator {
    return this.page.locator('.statusbar-item', { hasText: text });
  }

  /** Waits for the NeoX status bar item to show `state` (e.g. 'ready'). */
  async waitForNeoxState(state: string | RegExp, timeout = 120_000): Promise<string> {
    const re = typeof state === 'string' ? new RegExp(`NeoX.*${state}`) : state;
    const item = this.statusItem(re).first();
    await item.waitFor({ timeout });
    return (await item.innerText()).trim();
  }

  async quickOpen(fileName: string): Promise<void> {
    await this.page.keyboard.press('Control+P');
    const input = this.page.locator('.quick-input-widget input');
    await input.waitFor();
    await input.fill(fileName);
    const row = this.page.locator('.quick-input-list .monaco-list-row', { hasText: fileName }).first();
    await row.waitFor();
    await row.click();
    await this.page.locator('.tab.active', { hasText: fileName }).waitFor();
    await this.focusEditor();
  }

  async focusEditor(): Promise<void> {
    const editor = this.page.locator('.editor-group-container.active .monaco-editor .view-lines').first();
    await editor.waitFor();
    await editor.click();
  }

  /**
   * Runs a command from the palette. After a window reload the palette can open before the extension
   * host has registered a contribution (e.g. a view's "Focus on ... View"), and its list is not always
   * refreshed when the command arrives: each try that does not show the row within `perTry` closes the
   * palette and opens it again, until `timeout`.
   */
  async runCommand(title: string, timeout = 60_000, perTry = 5_000): Promise<void> {
    const deadline = Date.now() + timeout;
    const widget = this.page.locator('.quick-input-widget');
    const input = widget.locator('input');
    const row = this.page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.page.keyboard.press('F1');
        await input.waitFor({ timeout: perTry });
        await input.fill(`>${title}`);
        await row.waitFor({ timeout: perTry });
        await row.click();
        return;
      } catch (e) {
        if (Date.now() + perTry > deadline) throw new Error(`command "${title}" not found in the palette after ${attempt} tries: ${String(e)}`);
        await this.page.keyboard.press('Escape');
        await widget.waitFor({ state: 'hidden', timeout: perTry }).catch(() => undefined);
      }
    }
  }

  notification(text: string | RegExp): Locator {
    return this.page.locator('.notification-toast', { hasText: text });
  }

  /** The text of the active editor's visible lines (monaco renders spaces as nbsp). */
  async editorText(): Promise<string> {
    const lines = this.page.locator('.editor-group-container.active .monaco-editor .view-lines .view-line');
    const texts = await lines.evaluateAll((els) =>
      els
        .map((e) => ({ top: parseFloat((e as HTMLElement).style.top) || 0, text: (e.textContent ?? '').replace(/\u00a0/g, ' ') }))
        .sort((a, b) => a.top - b.top)
        .map((l) => l.text),
    );
    return texts.join('\n');
  }

  async ghostText(): Promise<string> {
    const parts = await this.page.locator('.ghost-text-decoration, .ghost-text').allTextContents();
    return parts.join('\n').replace(/\u00a0/g, ' ');
  }

  /** The frame of a webview view whose outer iframe is `title`'s. */
  webview(): FrameLocator {
    return this.page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
  }

  async screenshot(path: string): Promise<void> {
    await this.page.screenshot({ path, fullPage: false });
  }
}

/** Polls `check` (no fixed sleeps: returns as soon as it holds) until it returns a value or time runs out. */
export async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeout = 60_000, every = 250): Promise<T> {
  const deadline = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
