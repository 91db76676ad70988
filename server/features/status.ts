/**
 * The status the client shows (neox/status, neox/getStatus): the backend's life (loading with
 * progress, ready, failed to load) and, while it is ready, its health (health.ts).
 */
import type { Connection } from 'vscode-languageserver/node';
import { modelName } from '../backend-factory';
import { GetStatusRequest } from '../../protocol/index';
import type { ServerDeps } from '../services';

export function register(connection: Connection, deps: ServerDeps): void {
  const { status } = deps;
  deps.backends.subscribe({
    onLoading: (_s, p) => status.set({ state: 'loading', message: p.message, progress: p.fraction }),
    onReady: (spec, info) =>
      status.set({
        state: 'ready',
        model: info.id,
        modelName: modelName(spec, spec.kind === 'local' ? undefined : info.id),
        message: info.description,
        backend: spec.kind,
      }),
    onError: (_s, e) => status.set({ state: 'error', message: e.message }),
  });
  connection.onRequest(GetStatusRequest, () => status.current);
}
