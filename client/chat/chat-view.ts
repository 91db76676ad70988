/**
 * The chat sidebar (a WebviewView in its own activity-bar container). The webview renders; this side
 * owns the conversation, talks to the server (ChatRequest + streamed deltas), attaches the selection or
 * file on request, and carries out the code-block buttons (copy, insert at cursor, open as new file).
 */
import * as vscode from 'vscode';
import { ChatRequest, ExplainQuestionRequest, type ChatContext } from '../../protocol/index';
import { openLocation } from '../commands/search-workspace';
import type { NeoxClient } from '../neox-client';
import { answerInfo, Conversation } from './conversation';
import { chatHtml } from './html';
import { blockEditAt, type BlockEdit } from './insert-block';
import type { Attach, FromWebview, ToWebview } from './messages';

export const CHAT_VIEW_ID = 'neoxComplete.chat';
/** The most recent turns sent with a question: the whole stored history would overflow small contexts. */
const SENT_TURNS = 12;

export class ChatViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  private view?: vscode.WebviewView;
  private readonly conversation: Conversation;
  private running?: vscode.CancellationTokenSource;
  private lastEditor?: vscode.TextEditor;
  private readonly disposables: vscode.Disposable[] = [];
  /** Resolved with the final answer of each turn (for tests and the API). */
  private readonly onAnswer = new vscode.EventEmitter<string>();
  readonly onDidAnswer = this.onAnswer.event;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly neox: NeoxClient,
  ) {
    this.conversation = new Conversation(context.workspaceState);
    this.lastEditor = vscode.window.activeTextEditor;
    this.disposables.push(
      vscode.window.onDidChangeActiveTextEditor((e) => {
        if (e) this.lastEditor = e;
      }),
      this.onAnswer,
    );
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const webviewRoot = vscode.Uri.joinPath(this.context.extensionUri, 'dist', 'webview');
    view.webview.options = { enableScripts: true, localResourceRoots: [webviewRoot] };
    view.webview.html = chatHtml(view.webview, this.context.extensionUri);
    this.disposables.push(view.webview.onDidReceiveMessage((m: FromWebview) => void this.handle(m)));
    view.onDidDispose(() => (this.view = undefined));
  }

  /** Asks a question as if typed in the view (used by the "Ask about selection" command and tests). */
  async ask(text: string, attach: Attach = 'none'): Promise<string | undefined> {
    return this.send(text, attach);
  }

  /** "NeoX: Explain the selection in chat": asks what "explain" asks (the server's prompt files word it) about the selection, else the whole file. */
  async explain(): Promise<string | undefined> {
    const editor = this.lastEditor;
    if (!editor || editor.document.isClosed) {
      void vscode.window.showWarningMessage('NeoX: open a file and select the code to explain.');
      return undefined;
    }
    const doc = editor.document;
    const client = await this.neox.ready();
    const { question } = await client.sendRequest(ExplainQuestionRequest, { languageId: doc.languageId, fileName: vscode.workspace.asRelativePath(doc.uri) });
    return this.send(question, 'selection');
  }

  get turns() {
    return this.conversation.turns;
  }

  private post(m: ToWebview): void {
    void this.view?.webview.postMessage(m);
  }

  private async handle(m: FromWebview): Promise<void> {
    switch (m.type) {
      case 'ready':
        return this.post({ type: 'history', turns: this.conversation.turns, busy: !!this.running });
      case 'send':
        await this.send(m.text, m.attach);
        return;
      case 'stop':
        // Stop sent while the finished answer was on its way to the view: the view shows it stopped, so store it so.
        if (!this.running) return this.conversation.markLastAnswerStopped();
        return this.running.cancel();
      case 'clear':
        this.running?.cancel();
        await this.conversation.clear();
        return this.post({ type: 'history', turns: [], busy: false });
      case 'copy':
        await vscode.env.clipboard.writeText(m.code);
        void vscode.window.setStatusBarMessage('NeoX: code copied', 2000);
        return;
      case 'insert':
        await this.insertAtCursor(m.code);
        return;
      case 'open':
        await openLocation(m.location);
        return;
      case 'newFile': {
        const doc = await vscode.workspace.openTextDocument({ content: m.code, language: m.language || undefined });
        await vscode.window.showTextDocument(doc);
        return;
      }
    }
  }

  private async insertAtCursor(code: string): Promise<void> {
    const editor = this.lastEditor && !this.lastEditor.document.isClosed ? this.lastEditor : vscode.window.visibleTextEditors[0];
    if (!editor) {
      void vscode.window.showWarningMessage('NeoX: open a file to insert the code into.');
      return;
    }
    await vscode.window.showTextDocument(editor.document, editor.viewColumn);
    const doc = editor.document;
    // One block per cursor line (several cursors on one line would insert it twice).
    const lines = [...new Set(editor.selections.map((s) => s.active.line))].sort((a, b) => a - b);
    const edits = lines.map((l) => blockEditAt(doc.lineAt(l).text, l, code)).filter((e) => e !== undefined);
    if (!edits.length) return;
    const applied = await editor.edit((b) => {
      for (const e of edits) {
        const range = doc.lineAt(e.line).range;
        if (e.mode === 'replace') b.replace(range, e.text);
        else b.insert(range.end, e.text);
      }
    });
    if (applied) revealEndOf(editor, edits);
  }

  private contextFor(attach: Attach): { ctx?: ChatContext; label?: string } {
    const editor = this.lastEditor;
    if (attach === 'none' || !editor || editor.document.isClosed) return {};
    const doc = editor.document;
    const name = vscode.workspace.asRelativePath(doc.uri);
    const s = editor.selection;
    if (attach === 'selection' && !s.isEmpty) {
      return {
        ctx: { fileName: name, languageId: doc.languageId, text: doc.getText(s) },
        label: `${name}:${s.start.line + 1}-${s.end.line + 1}`,
      };
    }
    // The file is cut around the selection (or the cursor's line) when it does not fit the context;
    // a selection ending at the start of a line does not take that line.
    const endLine = s.end.line > s.start.line && s.end.character === 0 ? s.end.line - 1 : s.end.line;
    const selection = { startLine: s.start.line, endLine };
    return { ctx: { fileName: name, languageId: doc.languageId, text: doc.getText(), selection }, label: name };
  }

  private async send(text: string, attach: Attach): Promise<string | undefined> {
    if (!text.trim() || this.running) return undefined;
    const { ctx, label } = this.contextFor(attach);
    const turn = { role: 'user' as const, content: text.trim() };
    await this.conversation.push(turn);
    this.post({ type: 'userTurn', turn, attachedLabel: label });
    const cts = (this.running = new vscode.CancellationTokenSource());
    let streamed = '';
    const { streamId, close } = this.neox.streams.open((delta) => {
      streamed += delta;
      this.post({ type: 'delta', text: delta });
    });
    try {
      const client = await this.neox.ready();
      const { messages, earlier } = this.conversation.forModel(SENT_TURNS);
      const result = await client
        .sendRequest(ChatRequest, { streamId, messages, earlierTurns: earlier, context: ctx ? [ctx] : undefined }, cts.token)
        .catch((e: unknown) => {
          if (cts.token.isCancellationRequested) return undefined;
          throw e;
        });
      const stopped = !result || cts.token.isCancellationRequested || result.finishReason === 'cancelled';
      const content = result?.content ?? streamed;
      const info = answerInfo(result);
      if (content || stopped) await this.conversation.push({ role: 'assistant', content, ...(stopped ? { stopped } : {}), ...info });
      this.post({ type: 'done', content, stopped, info });
      // Stop pressed while the finished answer was being stored: the view shows it stopped.
      if (!stopped && cts.token.isCancellationRequested) await this.conversation.markLastAnswerStopped();
      this.onAnswer.fire(content);
      return content;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.post({ type: 'error', message });
      this.neox.output.error(`chat: ${message}`);
      return undefined;
    } finally {
      close();
      cts.dispose();
      this.running = undefined;
    }
  }

  dispose(): void {
    this.running?.cancel();
    for (const d of this.disposables) d.dispose();
  }
}

/** Puts the cursor at the end of the last inserted block (edits in line order) and scrolls it into view. */
function revealEndOf(editor: vscode.TextEditor, edits: BlockEdit[]): void {
  const newlines = (e: BlockEdit) => e.text.split('\n').length - 1;
  // Earlier blocks pushed the last one down by their own line count.
  const lastLine = edits.reduce((line, e) => line + newlines(e), edits[edits.length - 1].line);
  const end = editor.document.lineAt(Math.min(lastLine, editor.document.lineCount - 1)).range.end;
  editor.selection = new vscode.Selection(end, end);
  editor.revealRange(new vscode.Range(end, end));
}
