/** The chat conversation, kept per workspace (workspaceState) so it survives window reloads. */
import type * as vscode from 'vscode';
import type { ChatTurn } from '../../protocol/index';

const KEY = 'neoxComplete.chat.conversation';
/** Older turns are dropped from storage; the server trims what it sends to the model anyway. */
const MAX_TURNS = 200;

/** A stored turn; a stopped answer is kept (even empty) so the view after a reload matches what was shown. */
export interface StoredTurn extends ChatTurn {
  stopped?: boolean;
}

export class Conversation {
  constructor(private readonly state: vscode.Memento) {}

  get turns(): StoredTurn[] {
    return this.state.get<StoredTurn[]>(KEY, []);
  }

  /** The turns to send to the model: the protocol's shape, without answers that were stopped before any text. */
  forModel(last: number): ChatTurn[] {
    return this.turns
      .filter((t) => t.role === 'user' || t.content.trim())
      .slice(-last)
      .map(({ role, content }) => ({ role, content }));
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
