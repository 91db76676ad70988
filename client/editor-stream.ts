/**
 * Streams generated text into a document as it arrives, so that the whole generation is ONE undo step:
 * the first edit opens an undo stop, every later edit (including the final reconciliation and a
 * cancellation's removal) joins it. Edits are serialized; deltas that arrive while an edit is being
 * applied are batched into the next one.
 */
import * as vscode from 'vscode';

export class EditorStream {
  private readonly startOffset: number;
  private streamed = '';
  private pending = '';
  private chain: Promise<unknown> = Promise.resolve();
  private first = true;
  /** After remove() or finish(), late deltas (still in flight from the server) are ignored. */
  private closed = false;
  /** What finish() put at its final place (and the text it replaced there), for a remove() after it. */
  private placed?: { offset: number; text: string; replaced: string };

  constructor(
    private readonly editor: vscode.TextEditor,
    at: vscode.Position,
    /** Text inserted before the first delta (e.g. a newline to start below the comment). */
    private readonly prefix = '',
  ) {
    this.startOffset = editor.document.offsetAt(at);
  }

  get text(): string {
    return this.streamed;
  }

  append(delta: string): void {
    if (!delta || this.closed) return;
    this.pending += delta;
    this.chain = this.chain.then(() => this.flush());
  }

  /** Waits until every delta so far is in the document. */
  settled(): Promise<unknown> {
    return this.chain;
  }

  private async flush(): Promise<void> {
    if (!this.pending) return;
    const add = (this.first ? this.prefix : '') + this.pending;
    this.pending = '';
    const at = this.editor.document.positionAt(this.startOffset + this.streamed.length);
    const ok = await this.edit((b) => b.insert(at, add));
    if (ok) this.streamed += add;
  }

  /**
   * Removes what was streamed, and the final text if finish() placed it (cancellation): the document is
   * as before, in the same undo step. Text outside what this stream wrote is left alone.
   */
  async remove(): Promise<void> {
    this.closed = true;
    this.pending = '';
    await this.chain;
    if (this.streamed && (await this.edit((b) => b.delete(this.range())))) this.streamed = '';
    const placed = this.placed;
    this.placed = undefined;
    if (placed) await this.edit((b) => b.replace(this.rangeAt(placed.offset, placed.text.length), placed.replaced));
  }

  /**
   * Replaces the streamed preview with the final text at the final place (positions of the document as
   * it was before streaming began). Returns the range of the final text.
   */
  async finish(text: string, at?: vscode.Range): Promise<vscode.Range> {
    this.closed = true;
    this.pending = '';
    await this.chain;
    const doc = this.editor.document;
    if (!at) {
      if (await this.edit((b) => b.replace(this.range(), text))) {
        this.placed = { offset: this.startOffset, text, replaced: '' };
        this.streamed = '';
      }
      return this.rangeAt(this.startOffset, text.length);
    }
    if (this.streamed && (await this.edit((b) => b.delete(this.range())))) this.streamed = '';
    const offset = doc.offsetAt(at.start);
    const replaced = doc.getText(at);
    if (await this.edit((b) => b.replace(at, text))) this.placed = { offset, text, replaced };
    return this.rangeAt(offset, text.length);
  }

  private range(): vscode.Range {
    return this.rangeAt(this.startOffset, this.streamed.length);
  }

  private rangeAt(offset: number, length: number): vscode.Range {
    const doc = this.editor.document;
    return new vscode.Range(doc.positionAt(offset), doc.positionAt(offset + length));
  }

  private edit(fn: (b: vscode.TextEditorEdit) => void): Thenable<boolean> {
    const undoStopBefore = this.first;
    this.first = false;
    return this.editor.edit(fn, { undoStopBefore, undoStopAfter: false });
  }
}
