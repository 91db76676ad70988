/**
 * Routes `neox/stream` notifications to whoever started the request with that streamId
 * (generate from comment, generate file, chat). One router per language client.
 */
import { randomUUID } from 'node:crypto';
import type { StreamParams } from '../protocol/index';

export type StreamListener = (delta: string, index: number) => void;

export class StreamRouter {
  private readonly listeners = new Map<string, StreamListener>();

  /** A fresh stream id and a disposer; deltas for it go to `listener` until disposed. */
  open(listener: StreamListener): { streamId: string; close(): void } {
    const streamId = randomUUID();
    this.listeners.set(streamId, listener);
    return { streamId, close: () => this.listeners.delete(streamId) };
  }

  dispatch(p: StreamParams): void {
    this.listeners.get(p.streamId)?.(p.delta, p.index ?? 0);
  }
}
