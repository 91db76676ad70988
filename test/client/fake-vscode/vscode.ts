/**
 * A stand-in for the `vscode` module, for unit tests of client code that drives an editor (EditorStream,
 * the generate commands) outside VS Code. Only what that code uses is here. load.ts makes `import 'vscode'`
 * resolve to this file; a test imports it directly to set the scene (the same module instance).
 *
 * FakeEditor applies an edit like VS Code does: later (the main thread), the document changes, change
 * listeners run, then the edit's promise resolves. While `holdEdits` is set, edits wait until the test
 * applies them: an editor that is slow to answer, as on a busy machine.
 */

export class Position {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {}
}

export class Range {
  constructor(
    readonly start: Position,
    readonly end: Position,
  ) {}
}

export class Selection extends Range {
  constructor(
    readonly anchor: Position,
    readonly active: Position,
  ) {
    super(anchor, active);
  }
}

export enum EndOfLine {
  LF = 1,
  CRLF = 2,
}

export enum ProgressLocation {
  SourceControl = 1,
  Window = 10,
  Notification = 15,
}

export interface Disposable {
  dispose(): void;
}

export interface CancellationToken {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: (e: undefined) => unknown): Disposable;
}

export class CancellationTokenSource {
  private cancelled = false;
  private readonly listeners = new Set<(e: undefined) => unknown>();
  readonly token: CancellationToken;
  constructor() {
    const listeners = this.listeners;
    const isCancelled = () => this.cancelled;
    this.token = {
      get isCancellationRequested() {
        return isCancelled();
      },
      onCancellationRequested: (listener) => {
        listeners.add(listener);
        return { dispose: () => listeners.delete(listener) };
      },
    };
  }
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    for (const l of [...this.listeners]) l(undefined);
  }
}

export class FakeDocument {
  readonly uri = { toString: () => 'file:///workspace/fake.js' };
  constructor(
    public text: string,
    readonly eol = EndOfLine.LF,
  ) {}

  getText(range?: Range): string {
    return range ? this.text.slice(this.offsetAt(range.start), this.offsetAt(range.end)) : this.text;
  }

  offsetAt(p: Position): number {
    const lines = this.text.split('\n');
    let offset = 0;
    for (let i = 0; i < Math.min(p.line, lines.length - 1); i++) offset += lines[i]!.length + 1;
    const line = lines[Math.min(p.line, lines.length - 1)]!;
    return offset + Math.min(p.character, line.length);
  }

  positionAt(offset: number): Position {
    const before = this.text.slice(0, Math.max(0, Math.min(offset, this.text.length))).split('\n');
    return new Position(before.length - 1, before.at(-1)!.length);
  }

  lineAt(line: number): { text: string; range: Range } {
    const text = this.text.split('\n')[line]!;
    return { text, range: new Range(new Position(line, 0), new Position(line, text.length)) };
  }
}

/** One replacement of an edit, in offsets of the document before the edit. */
export interface AppliedChange {
  offset: number;
  removed: string;
  inserted: string;
}

export interface EditOptions {
  undoStopBefore: boolean;
  undoStopAfter: boolean;
}

type EditBuilder = {
  insert(at: Position, text: string): void;
  delete(range: Range): void;
  replace(range: Range, text: string): void;
};

export class FakeEditor {
  selection: Selection;
  /** The options of every edit, in order (undo stops). */
  readonly editOptions: EditOptions[] = [];
  holdEdits = false;
  private readonly waiting: (() => void)[] = [];
  private readonly onWaiting = new Set<() => void>();
  private readonly changeListeners = new Set<(changes: AppliedChange[]) => void>();

  constructor(
    readonly document: FakeDocument,
    cursor: Position,
  ) {
    this.selection = new Selection(cursor, cursor);
  }

  /** Runs `listener` after each edit is in the document (like workspace.onDidChangeTextDocument). */
  onDidChange(listener: (changes: AppliedChange[]) => void): void {
    this.changeListeners.add(listener);
  }

  /** Resolves after the next change to the document. */
  changed(): Promise<AppliedChange[]> {
    return new Promise((resolve) => {
      const l = (changes: AppliedChange[]) => {
        this.changeListeners.delete(l);
        resolve(changes);
      };
      this.changeListeners.add(l);
    });
  }

  edit(build: (b: EditBuilder) => void, options: EditOptions): Promise<boolean> {
    this.editOptions.push(options);
    const ops: { range: Range; text: string }[] = [];
    build({
      insert: (at, text) => ops.push({ range: new Range(at, at), text }),
      delete: (range) => ops.push({ range, text: '' }),
      replace: (range, text) => ops.push({ range, text }),
    });
    return new Promise<boolean>((resolve) => {
      const apply = () => resolve(this.apply(ops));
      if (!this.holdEdits) return void queueMicrotask(apply);
      this.waiting.push(apply);
      for (const l of [...this.onWaiting]) l();
    });
  }

  /** The user typing: a change that is no edit of the code under test. */
  userEdit(offset: number, removeLength: number, text: string): void {
    const d = this.document;
    this.apply([{ range: new Range(d.positionAt(offset), d.positionAt(offset + removeLength)), text }]);
  }

  /** Resolves once an edit waits to be applied (holdEdits). */
  editWaiting(): Promise<void> {
    if (this.waiting.length) return Promise.resolve();
    return new Promise((resolve) => {
      const l = () => {
        this.onWaiting.delete(l);
        resolve();
      };
      this.onWaiting.add(l);
    });
  }

  /** Stops holding edits and applies the waiting ones in order. */
  applyWaiting(): void {
    this.holdEdits = false;
    for (const apply of this.waiting.splice(0)) apply();
  }

  private apply(ops: { range: Range; text: string }[]): boolean {
    const d = this.document;
    const changes = ops
      .map((o) => ({ offset: d.offsetAt(o.range.start), removed: d.getText(o.range), inserted: o.text }))
      .sort((a, b) => b.offset - a.offset);
    for (const c of changes) d.text = d.text.slice(0, c.offset) + c.inserted + d.text.slice(c.offset + c.removed.length);
    // As VS Code reports them: offsets in the document before the edit, the last change first.
    const event: TextDocumentChangeEvent = {
      document: d,
      contentChanges: changes.map((c) => ({ rangeOffset: c.offset, rangeLength: c.removed.length, text: c.inserted })),
    };
    for (const l of [...documentListeners]) l(event);
    for (const l of [...this.changeListeners]) l(changes);
    return true;
  }
}

export interface TextDocumentChangeEvent {
  document: FakeDocument;
  contentChanges: { rangeOffset: number; rangeLength: number; text: string }[];
}

const documentListeners = new Set<(e: TextDocumentChangeEvent) => void>();

export const workspace = {
  onDidChangeTextDocument(listener: (e: TextDocumentChangeEvent) => void): Disposable {
    documentListeners.add(listener);
    return { dispose: () => void documentListeners.delete(listener) };
  },
};

export const window = {
  activeTextEditor: undefined as FakeEditor | undefined,
  warnings: [] as string[],
  async showWarningMessage(message: string): Promise<undefined> {
    window.warnings.push(message);
    return undefined;
  },
  /** The notification's own Cancel is never pressed here: tests cancel through the command's argument. */
  withProgress<T>(_options: unknown, task: (progress: { report(v: unknown): void }, token: CancellationToken) => Promise<T>): Promise<T> {
    return task({ report: () => undefined }, new CancellationTokenSource().token);
  },
};
