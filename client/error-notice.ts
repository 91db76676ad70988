/**
 * Which error notification is on screen. The engine's error is state, not an event: the notification
 * for it must go away when the state does (a model that loads again, another setting), must not be
 * shown again while the same error stays, and an error the user dismissed stays dismissed for the
 * session (the status bar item keeps showing it). No vscode import: the caller supplies `show`.
 */

/** A shown notification that can be withdrawn. */
export interface NoticeHandle {
  close(): void;
}

/** Shows `message`; calls `onDismissed` if the user closes it (not when `close()` is called). */
export type ShowNotice = (message: string, onDismissed: () => void) => NoticeHandle;

export class ErrorNotice {
  private shown?: { message: string; handle: NoticeHandle };
  private readonly dismissed = new Set<string>();

  constructor(private readonly show: ShowNotice) {}

  /** The message on screen now, if any. */
  get current(): string | undefined {
    return this.shown?.message;
  }

  /** The error in effect now; undefined when the cause is gone. */
  set(message: string | undefined): void {
    if (message !== undefined && message === this.shown?.message) return;
    this.withdraw();
    if (message === undefined || this.dismissed.has(message)) return;
    const entry: { message: string; handle: NoticeHandle } = { message, handle: { close: () => undefined } };
    this.shown = entry;
    entry.handle = this.show(message, () => {
      this.dismissed.add(message);
      if (this.shown === entry) this.shown = undefined;
    });
  }

  private withdraw(): void {
    const s = this.shown;
    this.shown = undefined;
    s?.handle.close();
  }

  dispose(): void {
    this.withdraw();
  }
}
