/** Completion statistics, kept on this machine: requests counted by the service, shown/accepted events from the client. */
import type { Connection } from 'vscode-languageserver/node';
import { CompletionEventNotification, GetStatisticsRequest } from '../../protocol/index';
import type { ServerDeps } from '../services';

const EVENTS = ['shown', 'accepted', 'partiallyAccepted', 'dismissed'];

export function register(connection: Connection, deps: ServerDeps): () => void {
  connection.onRequest(GetStatisticsRequest, () => deps.stats.snapshot());
  connection.onNotification(CompletionEventNotification, (p) => {
    if (p && EVENTS.includes(p.kind)) deps.stats.event(p.kind);
  });
  return () => deps.stats.flush();
}
