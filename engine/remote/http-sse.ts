/** Reading a Server-Sent-Events answer event by event, with the idle deadline re-armed by each event. */
import { redactUrl } from '../redact';
import type * as http from 'node:http';
import { createParser } from 'eventsource-parser';
import { NeoxError } from '../types';
import { mapError } from './http-errors';
import type { Attempt } from './http-retry';

/**
 * Feeds each event's data to `onData` (in order, whole events only, however the bytes were split
 * across TCP chunks), which returns true on the terminal event. Resolves once the response ended;
 * `ended` says whether the terminal event came.
 */
export async function readEvents(res: http.IncomingMessage, url: URL, attempt: Attempt, idleMs: number, onData: (data: string) => boolean): Promise<{ ended: boolean }> {
  let ended = false;
  let failure: unknown;
  let events = 0;
  const parser = createParser({
    onEvent: (ev) => {
      if (ended || failure) return;
      events++;
      try {
        ended = onData(ev.data);
      } catch (e) {
        failure = e;
      }
      if (failure) attempt.ac.abort(failure);
      // After the terminal event only the end of the response is awaited; a server that
      // keeps the connection open gets one second, then the socket is dropped.
      else if (ended) attempt.arm(1000, () => new NeoxError('done', 'done'));
      else attempt.arm(idleMs, () => new NeoxError(`${redactUrl(url)} stalled: no data for ${idleMs} ms after ${events} events`, 'stream_timeout'));
    },
  });
  const decoder = new TextDecoder('utf-8');
  try {
    for await (const chunk of res) parser.feed(decoder.decode(chunk as Buffer, { stream: true }));
    parser.feed(decoder.decode());
  } catch (e) {
    if (!ended) throw failure ?? mapError(e, url, attempt.ac.signal, events);
  }
  if (failure) throw failure;
  return { ended };
}

/** One event's data as the JSON object it must be; anything else is a NeoxError naming the URL. */
export function parseEventJson<T extends object>(data: string, url: URL): T {
  let j: unknown;
  try {
    j = JSON.parse(data);
  } catch {
    throw new NeoxError(`${redactUrl(url)} sent malformed stream data (not JSON): ${data.slice(0, 120)}`, 'bad_stream');
  }
  if (j === null || typeof j !== 'object') throw new NeoxError(`${redactUrl(url)} sent malformed stream data: ${data.slice(0, 120)}`, 'bad_stream');
  return j as T;
}
