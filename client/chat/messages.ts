/** Messages between the chat webview (webview/main.ts) and the extension (chat-view.ts). Types only. */
import type { CodeLocation } from '../../protocol/index';
import type { AnswerInfo, StoredTurn } from './conversation';

export type Attach = 'none' | 'selection' | 'file';

export type FromWebview =
  | { type: 'ready' }
  | { type: 'send'; text: string; attach: Attach }
  | { type: 'stop' }
  | { type: 'clear' }
  | { type: 'copy'; code: string }
  | { type: 'insert'; code: string }
  | { type: 'newFile'; code: string; language?: string }
  /** A source link under an answer: open that file at its lines. */
  | { type: 'open'; location: CodeLocation };

export type ToWebview =
  | { type: 'history'; turns: StoredTurn[]; busy: boolean }
  | { type: 'userTurn'; turn: StoredTurn; attachedLabel?: string }
  | { type: 'delta'; text: string }
  | { type: 'done'; content: string; stopped: boolean; info: AnswerInfo }
  | { type: 'error'; message: string };
