/**
 * Streams generated text into a document as it arrives, so that the whole generation is ONE undo step:
 * the first edit opens an undo stop, every later edit (including the final reconciliation and a
 * cancellation's removal) joins it. Edits are serialized; deltas that arrive while an edit is being
 * applied are batched into the next one.
 *
 * The user may keep typing while it streams. Every change that is not this stream's own moves what
 * the stream tracks (where its text starts, where the final text goes, what a cancellation removes),
 * so their text and ours stay where each was put. A change inside the streamed text means the user
 * took it over: streaming stops and that text is no longer removed or replaced.
 */
import * as vscode from 'vscode';

/** A change of the document by someone else, in the coordinates of the document without this stream's text. */
interface UserChange {
  offset: number;
  removed: number;
  added: number;
}

export class EditorStream {
  private startOffset: number;
  private streamed = '';
  private pending = '';
  private chain: Promise<unknown> = Promise.resolve();
  private first = true;
  /** After remove() or finish(), late deltas (still in flight from the server) are ignored. */
  private closed = false;
  /** The user edited inside the streamed text: it is theirs now. */
  private takenOver = false;
  /** What finish() put at its final place (and the text it replaced there), for a remove() after it. */
  private placed?: { offset: number; text: string; replaced: string };
  /**
   * Edits of ours not yet seen in a change event, with what each does to our bookkeeping once it is
   * in the document (run when its event comes: a user's change may arrive before the edit's promise).
   */
  private readonly ours: { offset: number; removed: number; text: string; done: () => void }[] = [];
  private readonly userChanges: UserChange[] = [];
  /** The document when the stream began: the positions a generation's answer refers to. */
  private readonly original: string;
  private readonly watch: vscode.Disposable;

  constructor(
    private readonly editor: vscode.TextEditor,
    at: vscode.Position,
    /** Text inserted before the first delta (e.g. a newline to start below the comment). */
    private readonly prefix = '',
  ) {
    this.startOffset = editor.document.offsetAt(at);
    this.original = editor.document.getText();
    this.watch = vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.document === editor.document) for (const c of e.contentChanges) this.follow(c);
    });
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
    if (!this.pending || this.takenOver) return;
    const add = this.inDocumentEol((this.first ? this.prefix : '') + this.pending);
    this.pending = '';
    const offset = this.startOffset + this.streamed.length;
    await this.edit(offset, 0, add, (b, doc) => b.insert(doc.positionAt(offset), add), () => (this.streamed += add));
  }

  /**
   * Removes what was streamed, and the final text if finish() placed it (cancellation): the document is
   * as before, in the same undo step. Text outside what this stream wrote is left alone.
   */
  async remove(): Promise<void> {
    this.closed = true;
    this.pending = '';
    await this.chain;
    await this.deleteStreamed();
    const placed = this.placed;
    this.placed = undefined;
    if (placed) await this.edit(placed.offset, placed.text.length, placed.replaced, (b) => b.replace(this.rangeAt(placed.offset, placed.text.length), placed.replaced), () => undefined);
  }

  /** Stops following the document (when neither finish() nor remove() can come any more). */
  dispose(): void {
    this.closed = true;
    this.watch.dispose();
  }

  /**
   * Replaces the streamed preview with the final text at the final place (`at`: positions of the
   * document as it was when the stream began, moved by what the user changed since). Returns the
   * range of the final text. If the user took the streamed text over, it stays as they left it and
   * nothing is placed.
   */
  async finish(text: string, at?: vscode.Range): Promise<vscode.Range> {
    text = this.inDocumentEol(text);
    this.closed = true;
    this.pending = '';
    await this.chain;
    if (this.takenOver) return this.rangeAt(this.startOffset, this.streamed.length);
    if (!at) {
      const offset = this.startOffset;
      const length = this.streamed.length;
      await this.edit(offset, length, text, (b) => b.replace(this.rangeAt(offset, length), text), () => {
        this.placed = { offset, text, replaced: '' };
        this.streamed = '';
      });
      return this.rangeAt(this.placed?.offset ?? offset, text.length);
    }
    await this.deleteStreamed();
    const start = this.moved(this.originalOffset(at.start));
    const end = Math.max(start, this.moved(this.originalOffset(at.end)));
    const replaced = this.editor.document.getText(this.rangeAt(start, end - start));
    await this.edit(start, end - start, text, (b) => b.replace(this.rangeAt(start, end - start), text), () => (this.placed = { offset: start, text, replaced }));
    return this.rangeAt(this.placed?.offset ?? start, text.length);
  }

  private async deleteStreamed(): Promise<void> {
    if (!this.streamed || this.takenOver) return;
    const offset = this.startOffset;
    const length = this.streamed.length;
    await this.edit(offset, length, '', (b) => b.delete(this.rangeAt(offset, length)), () => (this.streamed = ''));
  }

  /** A change of the document: ours is checked off; anyone else's moves what we track. */
  private follow(c: vscode.TextDocumentContentChangeEvent): void {
    const mine = this.ours.findIndex((o) => o.offset === c.rangeOffset && o.removed === c.rangeLength && o.text === c.text);
    if (mine >= 0) {
      this.ours.splice(mine, 1)[0]!.done();
      return;
    }
    const end = c.rangeOffset + c.rangeLength;
    const delta = c.text.length - c.rangeLength;
    const streamEnd = this.startOffset + this.streamed.length;
    if (end <= this.startOffset) {
      this.userChanges.push({ offset: c.rangeOffset, removed: c.rangeLength, added: c.text.length });
      this.startOffset += delta;
    } else if (c.rangeOffset >= streamEnd) {
      this.userChanges.push({ offset: c.rangeOffset - this.streamed.length, removed: c.rangeLength, added: c.text.length });
    } else {
      // Inside what was streamed: the user's now.
      this.takenOver = true;
      this.closed = true;
    }
    if (this.placed && end <= this.placed.offset) this.placed.offset += delta;
  }

  /** Where an offset of the document without this stream's text is now, after the user's changes. */
  private moved(offset: number): number {
    for (const u of this.userChanges) {
      if (u.offset + u.removed <= offset) offset += u.added - u.removed;
      else if (u.offset < offset) offset = u.offset + u.added;
    }
    return offset;
  }

  /** The offset of a position in the document as it was when the stream began. */
  private originalOffset(p: vscode.Position): number {
    const text = this.original;
    let offset = 0;
    for (let line = 0; line < p.line; line++) {
      const next = text.indexOf('\n', offset);
      if (next < 0) return text.length;
      offset = next + 1;
    }
    let lineEnd = text.indexOf('\n', offset);
    if (lineEnd < 0) lineEnd = text.length;
    else if (text[lineEnd - 1] === '\r') lineEnd--;
    return Math.min(offset + p.character, lineEnd);
  }

  /** The editor stores text with the document's line ends: written so, what we track is what it holds. */
  private inDocumentEol(text: string): string {
    return this.editor.document.eol === vscode.EndOfLine.CRLF ? text.replace(/\r?\n/g, '\r\n') : text;
  }

  private rangeAt(offset: number, length: number): vscode.Range {
    const doc = this.editor.document;
    return new vscode.Range(doc.positionAt(offset), doc.positionAt(offset + length));
  }

  /**
   * One edit of ours in the stream's undo step: offset, removed and text say how its change event will
   * read; `done` updates what we track once it is in the document.
   */
  private edit(offset: number, removed: number, text: string, fn: (b: vscode.TextEditorEdit, doc: vscode.TextDocument) => void, done: () => void): Thenable<boolean> {
    const undoStopBefore = this.first;
    this.first = false;
    const expected = { offset, removed, text, done };
    this.ours.push(expected);
    return this.editor.edit((b) => fn(b, this.editor.document), { undoStopBefore, undoStopAfter: false }).then((ok) => {
      // Normally its event came first; an accepted edit whose event did not match is counted here, a refused one not at all.
      const left = this.ours.indexOf(expected);
      if (left >= 0) {
        this.ours.splice(left, 1);
        if (ok) done();
      }
      return ok;
    });
  }
}
