/**
 * Ghost text comes from the server's LSP inlineCompletion capability (vscode-languageclient registers
 * the provider). This middleware adds what only the editor side knows:
 *  - gating: completions toggled off, snoozed, or the language not enabled -> no request at all;
 *  - acceptance reporting: each item's command is wrapped so that accepting it reports `accepted`
 *    with the completionId the server put in the command arguments; the first item of a result is
 *    reported `shown`, and a shown item that is replaced without being accepted is `dismissed`;
 *  - partial acceptance (accept word / line) via our wrapper commands.
 * Cycling between candidates is VS Code's own (Alt+] / Alt+[) over the items the server returns.
 */
import * as vscode from 'vscode';
import type { LanguageClient, Middleware } from 'vscode-languageclient/node';
import { CompletionEventNotification, INLINE_ACCEPTED_COMMAND, type CompletionEventKind } from '../protocol/index';
import { languageEnabled, settings } from './config';

interface ShownItem {
  completionId: string;
  text: string;
  uri: string;
  /** Document offset where the suggestion starts. */
  offset: number;
}

export class InlineCompletionTracker implements vscode.Disposable {
  private client?: LanguageClient;
  private shown?: ShownItem;
  private snoozedUntil = 0;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly onSnoozeChange = new vscode.EventEmitter<void>();
  readonly onDidChangeSnooze = this.onSnoozeChange.event;

  constructor(private readonly state: vscode.Memento) {
    this.snoozedUntil = state.get<number>('neoxComplete.snoozedUntil', 0);
    this.disposables.push(
      vscode.commands.registerCommand(INLINE_ACCEPTED_COMMAND, (completionId: string, original?: vscode.Command) =>
        this.accepted(completionId, original),
      ),
      vscode.commands.registerCommand('neoxComplete.acceptWord', () => this.acceptPart('editor.action.inlineSuggest.acceptNextWord')),
      vscode.commands.registerCommand('neoxComplete.acceptLine', () => this.acceptPart('editor.action.inlineSuggest.acceptNextLine')),
      // Escape on a suggestion: VS Code's own hide, reported at once (the API has no dismissal event).
      vscode.commands.registerCommand('neoxComplete.dismissInline', async () => {
        await vscode.commands.executeCommand('editor.action.inlineSuggest.hide');
        this.dismissShown();
      }),
      vscode.window.onDidChangeActiveTextEditor(() => this.dismissShown()),
      this.onSnoozeChange,
    );
  }

  attach(client: LanguageClient): void {
    this.client = client;
  }

  get snoozeRemainingMs(): number {
    return Math.max(0, this.snoozedUntil - Date.now());
  }

  async snooze(ms: number): Promise<void> {
    this.snoozedUntil = ms > 0 ? Date.now() + ms : 0;
    await this.state.update('neoxComplete.snoozedUntil', this.snoozedUntil);
    this.onSnoozeChange.fire();
    if (ms > 0) {
      const t = setTimeout(() => this.onSnoozeChange.fire(), ms + 50);
      this.disposables.push({ dispose: () => clearTimeout(t) });
    }
  }

  readonly middleware: Middleware = {
    provideInlineCompletionItems: async (document, position, context, token, next) => {
      // A new request means the previous suggestion was escaped or typed over, unless the user is typing
      // exactly what it suggested (typing through it is not a dismissal).
      if (!this.typingThrough(document, position)) this.dismissShown();
      if (!settings().enabled || this.snoozeRemainingMs > 0 || !languageEnabled(document.languageId)) return null;
      const result = await next(document, position, context, token);
      if (!result || token.isCancellationRequested) return result;
      const items = Array.isArray(result) ? result : result.items;
      for (const item of items) this.wrapCommand(item);
      const first = items[0];
      const id = first && completionIdOf(first.command);
      if (first && id) {
        const text = typeof first.insertText === 'string' ? first.insertText : first.insertText.value;
        const start = first.range ? first.range.start : position;
        // The shown text is counted from the item's range start (it may repeat what is already typed).
        const typedAlready = first.range ? document.getText(new vscode.Range(first.range.start, position)) : '';
        // Counted once per suggestion, not again while the user types through it.
        if (this.shown?.completionId !== id) {
          this.shown = { completionId: id, text: text.slice(typedAlready.length), uri: document.uri.toString(), offset: document.offsetAt(start) + typedAlready.length };
          this.report(id, 'shown');
        }
      }
      return result;
    },
  };

  private wrapCommand(item: vscode.InlineCompletionItem): void {
    const id = completionIdOf(item.command);
    if (!id) return;
    const original = item.command && item.command.command !== INLINE_ACCEPTED_COMMAND ? item.command : undefined;
    item.command = { title: 'Accept', command: INLINE_ACCEPTED_COMMAND, arguments: [id, original] };
  }

  private async accepted(completionId: string, original?: vscode.Command): Promise<void> {
    if (this.shown?.completionId === completionId) this.shown = undefined;
    this.report(completionId, 'accepted');
    // The server's own command, if it declared one that is not ours, still runs.
    if (original?.command) await vscode.commands.executeCommand(original.command, ...(original.arguments ?? []));
  }

  private async acceptPart(command: string): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const shown = this.shown;
    const before = editor?.document.getText().length ?? 0;
    await vscode.commands.executeCommand(command);
    if (shown && editor) {
      const accepted = editor.document.getText().length - before;
      if (accepted > 0) this.report(shown.completionId, 'partiallyAccepted', accepted);
    }
  }

  private typingThrough(document: vscode.TextDocument, position: vscode.Position): boolean {
    const shown = this.shown;
    if (!shown || shown.uri !== document.uri.toString()) return false;
    const offset = document.offsetAt(position);
    if (offset < shown.offset) return false;
    const typed = document.getText(new vscode.Range(document.positionAt(shown.offset), position));
    return typed.length > 0 && shown.text.startsWith(typed);
  }

  private dismissShown(): void {
    if (this.shown) this.report(this.shown.completionId, 'dismissed');
    this.shown = undefined;
  }

  private report(completionId: string, kind: CompletionEventKind, acceptedLength?: number): void {
    if (!this.client?.isRunning()) return;
    void this.client.sendNotification(CompletionEventNotification, { completionId, kind, acceptedLength }).catch(() => undefined);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

/** The server puts the completionId first in the command arguments (a string, or an object with completionId). */
export function completionIdOf(command: vscode.Command | undefined): string | undefined {
  const a = command?.arguments?.[0];
  if (typeof a === 'string') return a;
  if (a && typeof a === 'object' && typeof (a as { completionId?: unknown }).completionId === 'string') {
    return (a as { completionId: string }).completionId;
  }
  return undefined;
}
