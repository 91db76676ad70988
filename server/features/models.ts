/** The models the picker offers: the embedded one, the configured checkpoint, the remote server's. */
import type { Connection } from 'vscode-languageserver/node';
import { modelName } from '../backend-factory';
import { ListModelsRequest, type ListedModel } from '../../protocol/index';
import type { ServerDeps } from '../services';

export function register(connection: Connection, deps: ServerDeps): void {
  connection.onRequest(ListModelsRequest, () => ({ models: listModels(deps) }));
}

function listModels({ settings: store, backends }: ServerDeps): ListedModel[] {
  const settings = store.current;
  const models: ListedModel[] = [];
  const embedded = backends.specFor({ ...settings, modelPath: '' });
  const local = settings.backend === 'local';
  models.push({
    id: embedded.modelDir,
    backend: 'local',
    description: 'embedded default model (neox-code-23m)',
    name: modelName(embedded),
    location: embedded.modelDir,
    current: local && !settings.modelPath,
    embedded: true,
  });
  if (settings.modelPath) {
    const spec = backends.specFor(settings);
    models.push({ id: settings.modelPath, backend: 'local', description: `local ${settings.quantization}`, name: modelName({ ...spec, kind: 'local' }), location: settings.modelPath, current: local });
  }
  if (!local && settings.remoteUrl) {
    const id = settings.remoteModel || backends.info?.id || settings.remoteUrl;
    models.push({ id, backend: settings.backend, description: settings.remoteUrl, name: modelName(backends.specFor(settings), backends.info?.id), location: settings.remoteUrl, current: true });
  }
  return models;
}
