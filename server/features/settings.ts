/**
 * Settings: pulled with workspace/configuration after `initialized` and on every
 * didChangeConfiguration, applied live (a changed backend is rebuilt and starts loading at once),
 * then announced with neox/settingsApplied. The API key and the Hugging Face token arrive apart, with neox/setSecrets.
 */
import type { Connection } from 'vscode-languageserver/node';
import { modelName } from '../backend-factory';
import { SetSecretsNotification, SettingsAppliedNotification } from '../../protocol/index';
import type { ServerDeps } from '../services';
import { resolveSettings } from '../settings';

export function register(connection: Connection, deps: ServerDeps): void {
  const { backends, completions, status } = deps;

  const pull = async (pushed?: unknown): Promise<void> => {
    let raw = pushed;
    if (deps.canPullConfiguration) {
      try {
        raw = await connection.workspace.getConfiguration('neoxComplete');
      } catch (e) {
        connection.console.warn(`workspace/configuration failed: ${(e as Error).message}`);
      }
    }
    const { settings: next, problems } = resolveSettings(raw);
    for (const p of problems) connection.console.warn(p);
    const generation = deps.settings.apply(next);
    completions.setDebounce(next.debounceMs);
    completions.invalidate();
    if (backends.apply(next)) {
      const spec = backends.current!;
      status.switchTo({
        state: next.enabled ? 'starting' : 'disabled',
        backend: next.backend,
        model: spec.kind === 'local' ? spec.modelDir || spec.hub || '' : next.remoteModel || next.remoteUrl,
        modelName: modelName(spec),
        quantization: spec.kind === 'local' ? spec.quant : undefined,
        message: undefined,
      });
      // Start loading now so the first completion does not pay for it; failures show in status.
      if (next.enabled) void backends.ready().catch(() => undefined);
    } else if (!next.enabled) status.set({ state: 'disabled' });
    // Enabled again with the same backend: leave 'disabled' once the backend is ready.
    else if (status.current.state === 'disabled') void backends.ready().then(() => status.set({ state: 'ready' }), () => undefined);
    void connection.sendNotification(SettingsAppliedNotification, { generation }).catch(() => undefined);
  };

  connection.onInitialized(() => void pull());
  connection.onDidChangeConfiguration((p) => void pull((p.settings as Record<string, unknown> | undefined)?.neoxComplete));
  connection.onNotification(SetSecretsNotification, (p) => {
    backends.hubToken = p?.hfToken || undefined;
    backends.setApiKey(p?.apiKey || undefined);
  });
}
