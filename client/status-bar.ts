/**
 * The status bar item (model, backend, state, last latency; a click opens the quick menu), the progress
 * notification while a model loads, and error notifications with actions. Everything is driven by the
 * server's `neox/status` notifications; the client adds only its own states (snoozed, disabled, stopped).
 */
import * as vscode from 'vscode';
import type { StatusParams } from '../server/protocol';
import { openSettings } from './config';

const ICONS: Record<StatusParams['state'], string> = {
  starting: '$(loading~spin)',
  loading: '$(loading~spin)',
  ready: '$(sparkle)',
  generating: '$(sync~spin)',
  error: '$(error)',
  disabled: '$(circle-slash)',
};

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('neoxComplete.status', vscode.StatusBarAlignment.Right, 100);
  private status: StatusParams = { state: 'starting', backend: 'local', model: '' };
  private snoozeMs = 0;
  private progress?: { report(fraction?: number, message?: string): void; done(): void };
  private lastError?: string;
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

  update(s: StatusParams): void {
    const prev = this.status;
    this.status = s;
    this.render();
    this.output.info(`status: ${s.state} ${s.backend}/${s.model}${s.message ? ` - ${s.message}` : ''}`);

    if (s.state === 'loading' || (s.state === 'starting' && s.progress !== undefined)) this.showProgress(s);
    else this.progress?.done();

    if (s.state === 'error') {
      const msg = s.message ?? 'the engine reported an error';
      // One notification per distinct error, not one per status refresh.
      if (msg !== this.lastError || prev.state !== 'error') this.showError(msg);
      this.lastError = msg;
    } else {
      this.lastError = undefined;
    }
  }

  showError(message: string): void {
    this.output.error(message);
    void vscode.window.showErrorMessage(`NeoX Complete: ${message}`, 'Open Settings', 'Show Logs').then((a) => {
      if (a === 'Open Settings') void openSettings();
      if (a === 'Show Logs') this.output.show();
    });
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
        { location: vscode.ProgressLocation.Notification, title: `NeoX Complete: loading ${s.model || 'model'}` },
        (p) => {
          reporter = p;
          for (const x of pending.splice(0)) report(x.fraction, x.message);
          return finished;
        },
      );
    }
    this.progress.report(s.progress, s.message);
  }

  private render(): void {
    const s = this.status;
    // The server names local models by folder: the last path segment is what people recognise.
    const name = s.model.split(/[\\/]/).filter(Boolean).pop() ?? '';
    const model = name ? `${name} (${s.backend})` : s.backend;
    const latency = s.lastLatencyMs !== undefined && s.state !== 'error' ? ` · ${Math.round(s.lastLatencyMs)} ms` : '';
    if (this.snoozeMs > 0 && s.state !== 'error') {
      this.item.text = `$(bell-slash) NeoX snoozed`;
    } else {
      this.item.text = `${ICONS[s.state]} NeoX: ${model} · ${s.state}${latency}`;
    }
    const md = new vscode.MarkdownString(undefined, true);
    md.appendMarkdown(`**NeoX Complete**\n\n`);
    md.appendMarkdown(`- Model: ${s.model || '(none)'}\n- Backend: ${s.backend}\n- State: ${s.state}\n`);
    if (s.lastLatencyMs !== undefined) md.appendMarkdown(`- Last completion: ${Math.round(s.lastLatencyMs)} ms\n`);
    if (this.snoozeMs > 0) md.appendMarkdown(`- Snoozed for ${Math.ceil(this.snoozeMs / 60_000)} more min\n`);
    if (s.message) md.appendMarkdown(`\n${s.message.replace(/[\\`*_{}[\]<>#|]/g, '\\$&')}\n`);
    md.appendMarkdown(`\nClick for the NeoX menu.`);
    this.item.tooltip = md;
    this.item.backgroundColor = s.state === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  dispose(): void {
    this.progress?.done();
    this.item.dispose();
  }
}
