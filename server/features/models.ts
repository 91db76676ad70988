/**
 * The models the picker offers: the embedded one, the configured checkpoint, the remote server's, then
 * the curated catalogue (engine/catalogue.ts) with memory per precision, fit on this machine and
 * whether each is already in the Hugging Face cache.
 */
import { basename, resolve } from 'node:path';
import type { Connection } from 'vscode-languageserver/node';
import { modelName } from '../backend-factory';
import { ListModelsRequest, type ListedAdapter, type ListedModel, type NeoxSettings } from '../../protocol/index';
import { describeAdapter, listCatalogue } from '../../engine/index';
import type { ServerDeps } from '../services';

export function register(connection: Connection, deps: ServerDeps): void {
  connection.onRequest(ListModelsRequest, () => {
    const adapters = listAdapters(deps.settings.current);
    return { models: listModels(deps), ...(adapters.length ? { adapters } : {}) };
  });
}

/**
 * The LoRA adapters to choose from: neoxComplete.adapters, and the chosen neoxComplete.adapter when it
 * is not among them. Each described from its adapter_config.json, or with what is wrong with it.
 */
export function listAdapters(settings: NeoxSettings): ListedAdapter[] {
  const paths = [...new Set([...settings.adapters, ...(settings.adapter ? [settings.adapter] : [])].filter(Boolean))];
  return paths.map((path) => {
    let description: string;
    let problem = false;
    try {
      description = describeAdapter(path);
    } catch (e) {
      description = e instanceof Error ? e.message : String(e);
      problem = true;
    }
    return { path, name: basename(path.replace(/[\\/]+$/, '')) || path, description, ...(problem ? { problem } : {}), current: path === settings.adapter };
  });
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
  models.push(...catalogueModels(settings));
  return models;
}

/** The catalogue as picker rows; a failure here (an unreadable cache folder) must not hide the other rows. */
export function catalogueModels(settings: NeoxSettings, opts: { freeBytes?: number; hubCache?: string } = {}): ListedModel[] {
  let listing: ReturnType<typeof listCatalogue>;
  try {
    listing = listCatalogue(opts);
  } catch {
    return [];
  }
  const local = settings.backend === 'local';
  const selected = settings.modelPath ? resolve(settings.modelPath) : undefined;
  return listing.models.map((m) => ({
    id: m.repo,
    backend: 'local',
    name: m.name,
    description: m.repo,
    current: local && !!settings.modelPath && (settings.modelPath === m.repo || (!!m.cachedDir && selected === resolve(m.cachedDir))),
    hub: {
      repo: m.repo,
      parameters: m.parameters,
      downloadBytes: m.downloadBytes,
      memoryBytes: m.memoryBytes,
      fits: m.fits,
      freeBytes: listing.free.bytes,
      quantization: settings.quantization,
      ...(m.cachedDir ? { cachedDir: m.cachedDir } : {}),
    },
  }));
}
