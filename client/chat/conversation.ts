/** The chat conversation, kept per workspace (workspaceState) so it survives window reloads. */
import type * as vscode from 'vscode';
import type { ChatTurn, CodeLocation } from '../../protocol/index';

const KEY = 'neoxComplete.chat.conversation';
/** Older turns are dropped from storage; the server trims what it sends to the model anyway. */
const MAX_TURNS = 200;

/** A stored turn; a stopped answer is kept (even empty) so the view after a reload matches what was shown. */
export interface StoredTurn extends ChatTurn, AnswerInfo {
  stopped?: boolean;
}

/** What the server said about how an answer was made, shown under it (ChatResult.formatLabel, ChatResult.notice). */
export interface AnswerInfo {
  /** The chat format's name for people. */
  format?: string;
  /** What was left out to fit the model's context. */
  notice?: string;
  /** Workspace code the answer was given (ChatResult.sources): links under the answer. */
  sources?: CodeLocation[];
}

/** The info of a chat result to show with the answer (an older server sends only the format's id). */
export function answerInfo(result: { format?: string; formatLabel?: string; notice?: string; sources?: CodeLocation[] } | undefined): AnswerInfo {
  const format = result?.formatLabel || result?.format;
  return { ...(format ? { format } : {}), ...(result?.notice ? { notice: result.notice } : {}), ...(result?.sources?.length ? { sources: result.sources } : {}) };
}

export class Conversation {
  constructor(private readonly state: vscode.Memento) {}

  get turns(): StoredTurn[] {
    return this.state.get<StoredTurn[]>(KEY, []);
  }

  /**
   * The most recent `last` turns to send to the model, in the protocol's shape, without answers that
   * were stopped before any text; `earlier`: how many turns before them are kept back.
   */
  forModel(last: number): { messages: ChatTurn[]; earlier: number } {
    const sendable = this.turns.filter((t) => t.role === 'user' || t.content.trim());
    const messages = sendable.slice(-last).map(({ role, content }) => ({ role, content }));
    return { messages, earlier: sendable.length - messages.length };
  }

  async push(turn: StoredTurn): Promise<void> {
    await this.state.update(KEY, [...this.turns, turn].slice(-MAX_TURNS));
  }

  async markLastAnswerStopped(): Promise<void> {
    const turns = this.turns;
    const last = turns[turns.length - 1];
    if (last?.role !== 'assistant' || last.stopped) return;
    await this.state.update(KEY, [...turns.slice(0, -1), { ...last, stopped: true }]);
  }

  async clear(): Promise<void> {
    await this.state.update(KEY, []);
  }
}
