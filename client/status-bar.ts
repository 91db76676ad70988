/**
 * The status bar item (model, precision, backend, state, last latency; a click opens the quick menu),
 * the progress notification while a model loads, and the engine's error. Everything is driven by the
 * server's `neox/status` notifications; the client adds only its own states (snoozed, disabled, stopped).
 *
 * An engine error is state, so it is shown where state lives: the item turns red with the reason and
 * Open Settings / Show Logs in its tooltip (VS Code's UX guidelines: an error status bar item for
 * what must stay visible). It also gets one notification per distinct error, shown as a progress
 * notification because that is the one kind an extension can withdraw: it closes by itself when the
 * error is gone (error-notice.ts), which a showErrorMessage toast cannot.
 */
import * as vscode from 'vscode';
import type { StatusParams } from '../protocol/index';
import { ErrorNotice, type NoticeHandle } from './error-notice';
import { indexLine } from './index-text';
import { modelDisplayName, progressTitle, shortenPaths, statusText } from './status-text';

/** Command links (trusted in the tooltip and the notification) that fix or explain an error. */
const FIX_LINKS = '[Open Settings](command:neoxComplete.openSettings) · [Show Logs](command:neoxComplete.showLogs)';
const TRUSTED = { enabledCommands: ['neoxComplete.openSettings', 'neoxComplete.showLogs', 'neoxComplete.selectModel'] };

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('neoxComplete.status', vscode.StatusBarAlignment.Right, 100);
  private status: StatusParams = { state: 'starting', backend: 'local', model: '' };
  private lastLogged: { line?: string; index?: string } = {};
  private snoozeMs = 0;
  private progress?: { report(fraction?: number, message?: string): void; done(): void };
  private readonly errorNotice = new ErrorNotice((m, onDismissed) => this.showErrorNotice(m, onDismissed));
  /** How many load-progress notifications were opened (for tests and diagnostics). */
  progressNotifications = 0;

  constructor(private readonly output: vscode.LogOutputChannel) {
    this.item.name = 'NeoX Complete';
    this.item.command = 'neoxComplete.showMenu';
    this.render();
    this.item.show();
  }

  get current(): StatusParams {
    return this.status;
  }

  setSnooze(remainingMs: number): void {
    this.snoozeMs = remainingMs;
    this.render();
  }

  /** The error notification on screen now (undefined once its cause is gone or it was dismissed). */
  get visibleError(): string | undefined {
    return this.errorNotice.current;
  }

  update(s: StatusParams): void {
    const prev = this.status;
    this.status = s;
    this.render();
    const line = `status: ${s.state} ${s.backend}/${s.model}${s.quantization ? ` ${s.quantization}` : ''}${s.message ? ` - ${s.message}` : ''}`;
    // The index reports its progress several times a second: log its state changes, not each step.
    const index = s.index && `${s.index.state} ${s.index.message ?? ''}`;
    if (line !== this.lastLogged.line || index !== this.lastLogged.index) {
      this.output.info(index && line === this.lastLogged.line ? `status: workspace index ${index}` : line);
      this.lastLogged = { line, index };
    }

    if (s.state === 'loading' || (s.state === 'starting' && s.progress !== undefined)) this.showProgress(s);
    else this.progress?.done();

    const error = s.state === 'error' ? (s.message ?? 'the engine reported an error') : undefined;
    if (error !== undefined && (prev.state !== 'error' || prev.message !== s.message)) this.output.error(error);
    // Any other state means the cause is gone (a model loaded, settings changed): withdraw the error.
    this.errorNotice.set(error);
  }

  /** A notification that stays until the error is gone (close) or the user dismisses it (Cancel). */
  private showErrorNotice(message: string, onDismissed: () => void): NoticeHandle {
    let close!: () => void;
    const closed = new Promise<void>((r) => (close = r));
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `NeoX Complete: ${message} ${FIX_LINKS}`, cancellable: true },
      (_p, token) => {
        token.onCancellationRequested(() => {
          onDismissed();
          close();
        });
        return closed;
      },
    );
    return { close };
  }

  private showProgress(s: StatusParams): void {
    if (!this.progress) {
      this.progressNotifications++;
      let finish!: () => void;
      const finished = new Promise<void>((r) => (finish = r));
      let reported = 0;
      let reporter: vscode.Progress<{ message?: string; increment?: number }> | undefined;
      const pending: { fraction?: number; message?: string }[] = [];
      const report = (fraction?: number, message?: string) => {
        if (!reporter) return void pending.push({ fraction, message });
        const pct = fraction === undefined ? undefined : Math.round(fraction * 100);
        const increment = pct !== undefined && pct > reported ? pct - reported : undefined;
        if (pct !== undefined) reported = Math.max(reported, pct);
        reporter.report({ message, increment });
      };
      this.progress = {
        report,
        done: () => {
          this.progress = undefined;
          finish();
        },
      };
      void vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: progressTitle(s) },
        (p) => {
          reporter = p;
          for (const x of pending.splice(0)) report(x.fraction, x.message);
          return finished;
        },
      );
    }
    this.progress.report(s.progress, s.message === undefined ? undefined : shortenPaths(s.message, s));
  }

  private render(): void {
    const s = this.status;
    this.item.text = statusText(s, this.snoozeMs > 0);
    const md = new vscode.MarkdownString(undefined, true);
    md.isTrusted = TRUSTED;
    md.appendMarkdown(`**NeoX Complete**\n\n`);
    md.appendMarkdown(`- Model: ${escape(modelDisplayName(s) || '(none)')}\n`);
    if (s.quantization) md.appendMarkdown(`- Precision: ${s.quantization}\n`);
    md.appendMarkdown(`- Backend: ${s.backend}\n- State: ${s.state}\n`);
    if (s.lastLatencyMs !== undefined) md.appendMarkdown(`- Last completion: ${Math.round(s.lastLatencyMs)} ms\n`);
    const index = indexLine(s.index);
    if (index) md.appendMarkdown(`- ${escape(index)}\n`);
    if (this.snoozeMs > 0) md.appendMarkdown(`- Snoozed for ${Math.ceil(this.snoozeMs / 60_000)} more min\n`);
    // The path only here, as detail: the item's text names the model.
    if (s.model && s.model !== modelDisplayName(s)) md.appendMarkdown(`- From: ${escape(s.model)}\n`);
    if (s.message) md.appendMarkdown(`\n${s.state === 'error' ? '$(error) ' : ''}${escape(s.message)}\n`);
    if (s.state === 'error') md.appendMarkdown(`\n${FIX_LINKS}\n`);
    md.appendMarkdown(`\nClick for the NeoX menu.`);
    this.item.tooltip = md;
    this.item.backgroundColor = s.state === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  dispose(): void {
    this.progress?.done();
    this.errorNotice.dispose();
    this.item.dispose();
  }
}

/** Markdown-escapes text from the server (paths, error messages) for the tooltip. */
function escape(text: string): string {
  return text.replace(/[\\`*_{}[\]<>#|]/g, '\\$&');
}
