/** The chat conversation, kept per workspace (workspaceState) so it survives window reloads. */
import type * as vscode from 'vscode';
import type { ChatTurn } from '../../server/protocol';

const KEY = 'neoxComplete.chat.conversation';
/** Older turns are dropped from storage; the server trims what it sends to the model anyway. */
const MAX_TURNS = 200;

export class Conversation {
  constructor(private readonly state: vscode.Memento) {}

  get turns(): ChatTurn[] {
    return this.state.get<ChatTurn[]>(KEY, []);
  }

  async push(turn: ChatTurn): Promise<void> {
    await this.state.update(KEY, [...this.turns, turn].slice(-MAX_TURNS));
  }

  async clear(): Promise<void> {
    await this.state.update(KEY, []);
  }
}
