/**
 * Picks the CompletionBackend the settings ask for (local ONNX engine or a remote server),
 * rebuilds it when a setting that shapes it changes, and reports load progress and failures
 * as status. Settings that only shape requests (maxTokens, temperature...) never rebuild.
 */
import { basename } from 'node:path';
import { createBackend, embeddedModelDir, lookupModelRef, NeoxError, type CompletionBackend, type LoadProgress, type ModelInfo } from '../engine/index';
import type { NeoxInitializationOptions, NeoxSettings } from '../protocol/index';

export interface BackendSpec {
  kind: NeoxSettings['backend'];
  modelDir: string;
  quant: NeoxSettings['quantization'];
  url: string;
  model: string;
  apiKey?: string;
  cacheDir?: string;
  /**
   * Local only: modelPath is a Hugging Face Hub id (ORG/NAME[@REV]); modelDir is then its cached
   * snapshot, or '' with `hubMissing` when it is not downloaded (loading fails naming the command).
   */
  hub?: string;
  hubMissing?: boolean;
  /** Local only: the LoRA adapter folder chosen for the workspace (neoxComplete.adapter), as the engine's list; absent when none. */
  adapters?: string[];
  /** Remote only (the neoxComplete.remote* settings). */
  caFile?: string;
  connectTimeoutMs?: number;
  firstTokenTimeoutMs?: number;
  chatTemplate?: NeoxSettings['remoteChatTemplate'];
}

export type BackendBuilder = (spec: BackendSpec) => CompletionBackend;

/** The real backends, from the engine's registry; errors name the setting at fault. */
export const defaultBuilder: BackendBuilder = (spec) => {
  if (spec.kind === 'local') {
    return createBackend({ kind: 'local', modelDir: spec.modelDir, quant: spec.quant, cacheDir: spec.cacheDir, adapters: spec.adapters });
  }
  if (!spec.url) {
    throw new NeoxError(`neoxComplete.remoteUrl is empty: set it to your ${spec.kind} server's URL (e.g. http://gpu-box:8000)`, 'bad_setting');
  }
  return createBackend({
    kind: spec.kind,
    url: spec.url,
    model: spec.model || undefined,
    apiKey: spec.apiKey,
    caFile: spec.caFile || undefined,
    connectTimeoutMs: spec.connectTimeoutMs,
    firstTokenTimeoutMs: spec.firstTokenTimeoutMs,
    chatTemplate: spec.chatTemplate,
  });
};

export interface BackendEvents {
  onLoading?(spec: BackendSpec, p: LoadProgress): void;
  onReady?(spec: BackendSpec, info: ModelInfo, backend: CompletionBackend): void;
  onError?(spec: BackendSpec, err: Error): void;
  /** The backend is being disposed (settings changed or shutdown): stop using it. */
  onDropped?(): void;
}

/** The UI name of a model (StatusParams.modelName): a folder's name, a remote model's id, else the server's host. */
export function modelName(spec: BackendSpec, remoteId?: string): string {
  if (spec.kind === 'local') return spec.hub ? (spec.hub.split('/')[1] ?? spec.hub) : basename(spec.modelDir);
  if (remoteId || spec.model) return (remoteId || spec.model)!;
  try {
    return new URL(spec.url).host;
  } catch {
    return spec.url;
  }
}

export class BackendManager {
  private spec: BackendSpec | undefined;
  private backend: CompletionBackend | undefined;
  private loading: Promise<ModelInfo> | undefined;
  private apiKey: string | undefined;
  /** The Hugging Face token from neox/setSecrets (downloads; undefined: HF_TOKEN / the saved login). */
  hubToken: string | undefined;
  private settings: NeoxSettings | undefined;
  info: ModelInfo | undefined;
  lastError: Error | undefined;
  private readonly events: BackendEvents;
  private readonly listeners: BackendEvents[] = [];

  constructor(
    private readonly init: NeoxInitializationOptions,
    events: BackendEvents = {},
    private readonly builder: BackendBuilder = defaultBuilder,
  ) {
    this.listeners.push(events);
    const all = this.listeners;
    this.events = {
      onLoading: (spec, p) => all.forEach((l) => l.onLoading?.(spec, p)),
      onReady: (spec, info, backend) => all.forEach((l) => l.onReady?.(spec, info, backend)),
      onError: (spec, e) => all.forEach((l) => l.onError?.(spec, e)),
      onDropped: () => all.forEach((l) => l.onDropped?.()),
    };
  }

  /** Adds listeners to the backend's life (load progress, ready, failure, dropped). */
  subscribe(events: BackendEvents): void {
    this.listeners.push(events);
  }

  get current(): BackendSpec | undefined {
    return this.spec;
  }

  specFor(s: NeoxSettings): BackendSpec {
    const spec: BackendSpec = {
      kind: s.backend,
      modelDir: s.modelPath || this.init.defaultModelPath || embeddedModelDir(),
      quant: s.quantization,
      url: s.remoteUrl,
      model: s.remoteModel,
      apiKey: s.backend === 'local' ? undefined : this.apiKey,
      cacheDir: this.init.cacheDir,
    };
    // neoxComplete.adapters is what the model picker offers; only the chosen one is merged.
    if (s.backend === 'local' && s.adapter) spec.adapters = [s.adapter];
    // A Hub id is looked up in the Hugging Face cache (no network); downloading is the user's choice.
    if (s.backend === 'local' && s.modelPath) {
      const found = lookupModelRef(s.modelPath);
      if (found.kind === 'hub') {
        spec.hub = s.modelPath;
        spec.modelDir = found.cached?.dir ?? '';
        if (!found.cached) spec.hubMissing = true;
      }
    }
    // Remote-only settings take part only for remote backends: changing them never reloads a local model.
    if (s.backend !== 'local') {
      Object.assign(spec, { caFile: s.remoteCaFile, connectTimeoutMs: s.remoteConnectTimeoutMs, firstTokenTimeoutMs: s.remoteFirstTokenTimeoutMs, chatTemplate: s.remoteChatTemplate });
    }
    return spec;
  }

  /** New settings: rebuild (lazily, on next use) when the backend they describe changed. */
  apply(settings: NeoxSettings): boolean {
    this.settings = settings;
    const next = this.specFor(settings);
    if (this.spec && JSON.stringify(next) === JSON.stringify(this.spec)) return false;
    this.spec = next;
    void this.drop();
    return true;
  }

  setApiKey(apiKey: string | undefined): void {
    this.apiKey = apiKey;
    if (this.settings) this.apply(this.settings);
  }

  private async drop(): Promise<void> {
    const old = this.backend;
    if (old) this.events.onDropped?.();
    this.backend = undefined;
    this.loading = undefined;
    this.info = undefined;
    this.lastError = undefined;
    await old?.dispose().catch(() => undefined);
  }

  /** The backend, loaded. Throws a NeoxError naming the setting or folder when it cannot load. */
  async ready(): Promise<{ backend: CompletionBackend; info: ModelInfo }> {
    if (!this.spec) throw new NeoxError('no settings received yet', 'not_ready');
    const spec = this.spec;
    if (!this.backend) {
      try {
        if (spec.hubMissing) throw notDownloaded(spec.hub!);
        this.backend = this.builder(spec);
      } catch (e) {
        this.lastError = e as Error;
        this.events.onError?.(spec, e as Error);
        throw e;
      }
    }
    const backend = this.backend;
    this.loading ??= backend.load((p) => this.events.onLoading?.(spec, p)).then(
      (info) => {
        if (this.backend === backend) {
          this.info = info;
          this.events.onReady?.(spec, info, backend);
        }
        return info;
      },
      (e: Error) => {
        // Forget the failed load: the next request (or a settings change) tries again.
        if (this.backend === backend) {
          this.loading = undefined;
          this.lastError = e;
          this.events.onError?.(spec, e);
        }
        throw e;
      },
    );
    const info = await this.loading;
    return { backend, info };
  }

  /** Token count through the backend's tokenizer; falls back to an estimate before it exists. */
  async countTokens(text: string): Promise<number> {
    const b = this.backend;
    if (b) return b.countTokens(text);
    return Math.ceil(text.length / 3);
  }

  async dispose(): Promise<void> {
    await this.drop();
  }
}

/** The error of a modelPath that is a Hub id missing from the Hugging Face cache. */
export function notDownloaded(ref: string): NeoxError {
  return new NeoxError(`${ref} is not downloaded: run NeoX: Download model (or \`neox pull ${ref}\`)`, 'hub_not_found');
}
