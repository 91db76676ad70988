/**
 * The status follows the backend's health while it is ready: a remote server that stops
 * answering turns the status to 'error' naming its URL (credentials and query stripped) within
 * one poll, and back to 'ready' once it answers again. Each change is logged.
 */
import type { Connection } from 'vscode-languageserver/node';
import { DEFAULT_HEALTH_TIMING, HealthMonitor, type HealthTiming } from '../health-monitor';
import { redactUrl, redactUrlsIn } from '../redact';
import type { ServerDeps } from '../services';

export function register(connection: Connection, deps: ServerDeps): () => void {
  const { status, backends } = deps;
  /** The message of the error this feature put up: only that one is withdrawn on recovery. */
  let shown: string | undefined;
  let where = '';
  const monitor = new HealthMonitor(
    {
      onFailing(reason) {
        const message = `${where} is not answering: ${redactUrlsIn(reason)}`;
        connection.console.warn(`backend health: ${message}`);
        const state = status.current.state;
        if (state !== 'ready' && state !== 'generating') return;
        shown = message;
        status.set({ state: 'error', message });
      },
      onHealthy(message) {
        connection.console.info(`backend health: ${where} answers again`);
        if (status.current.state === 'error' && status.current.message === shown) {
          status.set({ state: 'ready', message: backends.info?.description ?? message });
        }
        shown = undefined;
      },
    },
    timing(deps.init.healthPollMs),
  );
  backends.subscribe({
    onReady: (spec, _info, backend) => {
      where = spec.kind === 'local' ? spec.modelDir : redactUrl(spec.url);
      shown = undefined;
      monitor.watch(backend);
    },
    onDropped: () => monitor.stop(),
  });
  return () => monitor.stop();
}

function timing(pollMs: number | undefined): HealthTiming {
  if (!pollMs || !(pollMs > 0)) return DEFAULT_HEALTH_TIMING;
  return { ...DEFAULT_HEALTH_TIMING, pollMs, backoffMs: Math.min(DEFAULT_HEALTH_TIMING.backoffMs, pollMs) };
}
