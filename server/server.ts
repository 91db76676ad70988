/**
 * The NeoX Complete language server. Started by the extension over IPC or stdio
 * (`--node-ipc` / `--stdio`: vscode-languageserver's createConnection reads argv).
 *
 * Standard LSP: text document sync, `textDocument/inlineCompletion` (3.18),
 * `workspace/configuration`. Custom methods: server/protocol.ts.
 */
import {
  createConnection,
  ErrorCodes,
  LSPErrorCodes,
  ProposedFeatures,
  ResponseError,
  TextDocuments,
  TextDocumentSyncKind,
  type CancellationToken,
  type InitializeParams,
  type InlineCompletionItem,
  type Position,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { basename, join } from 'node:path';
import { NeoxError } from '../engine/types';
import { BackendManager, type BackendSpec } from './backend-factory';
import { CompletionService } from './completion-service';
import { chat, generateFile, generateFromComment, type GenerateDeps } from './generate';
import {
  ChatRequest,
  CompletionEventNotification,
  GenerateFileRequest,
  GenerateFromCommentRequest,
  GetStatisticsRequest,
  GetStatusRequest,
  INLINE_ACCEPTED_COMMAND,
  ListModelsRequest,
  type ListedModel,
  SetSecretsNotification,
  SettingsAppliedNotification,
  StatusNotification,
  StreamNotification,
  type NeoxInitializationOptions,
  type StatusParams,
  DebugInFlightRequest,
  DebugLastCompletionRequest,
  type LastCompletionResult,
} from './protocol';
import { completionSettings, languageEnabled, resolveSettings, type EffectiveSettings } from './settings';
import { Statistics } from './stats';
import { relativePath } from './paths';
import { stopSyntaxWorker } from './syntax';

const connection = createConnection(ProposedFeatures.all);
const documents = new TextDocuments(TextDocument);

let settings: EffectiveSettings = resolveSettings(undefined).settings;
let init: NeoxInitializationOptions = {};
let workspaceRoots: string[] = [];
let canPullConfiguration = false;
let stats = new Statistics();
let status: StatusParams = { state: 'starting', backend: settings.backend, model: '' };

function setStatus(patch: Partial<StatusParams>): void {
  status = { ...status, ...patch };
  if (patch.state && patch.state !== 'loading') delete status.progress;
  void connection.sendNotification(StatusNotification, status).catch(() => undefined);
}

/** The UI name of a model (StatusParams.modelName): a folder's name, a remote model's id, else the server's host. */
function modelName(spec: BackendSpec, remoteId?: string): string {
  if (spec.kind === 'local') return basename(spec.modelDir);
  if (remoteId || spec.model) return (remoteId || spec.model)!;
  try {
    return new URL(spec.url).host;
  } catch {
    return spec.url;
  }
}

let backends = new BackendManager({});
/** Resolves once the first settings are applied: requests arriving earlier wait for them. */
let settingsApplied!: () => void;
const settingsReady = new Promise<void>((r) => (settingsApplied = r));
const readyBackend = async () => {
  await settingsReady;
  return backends.ready();
};
const completions = new CompletionService({
  ready: readyBackend,
  countTokens: (t) => backends.countTokens(t),
  isLocal: () => settings.backend === 'local',
  settings: () => completionSettings(settings),
  stats: { request: (k, ms) => stats.request(k, ms) },
  onGenerating: (busy) => {
    if (status.state === 'ready' || status.state === 'generating') setStatus({ state: busy ? 'generating' : 'ready' });
  },
});

/** Every failure a client sees is a ResponseError with one clear line. */
function toResponseError(e: unknown): ResponseError<void> {
  if (e instanceof ResponseError) return e;
  if (e instanceof NeoxError) return new ResponseError(ErrorCodes.InternalError, e.message);
  const msg = e instanceof Error ? e.message : String(e);
  return new ResponseError(ErrorCodes.InternalError, `NeoX Complete server error: ${msg}`);
}

function documentOrError(uri: string): TextDocument {
  const doc = documents.get(uri);
  if (!doc) throw new ResponseError(ErrorCodes.InvalidParams, `unknown document ${uri}: send textDocument/didOpen first`);
  return doc;
}

function checkPosition(doc: TextDocument, pos: Position): number {
  const bad = () =>
    new ResponseError(
      ErrorCodes.InvalidParams,
      `position ${pos?.line}:${pos?.character} is outside ${doc.uri} (${doc.lineCount} lines)`,
    );
  if (!pos || !Number.isInteger(pos.line) || !Number.isInteger(pos.character) || pos.line < 0 || pos.character < 0) throw bad();
  if (pos.line >= doc.lineCount) throw bad();
  const lineStart = doc.offsetAt({ line: pos.line, character: 0 });
  const lineEnd = pos.line + 1 < doc.lineCount ? doc.offsetAt({ line: pos.line + 1, character: 0 }) : doc.getText().length;
  const lineText = doc.getText().slice(lineStart, lineEnd).replace(/\r?\n$/, '');
  if (pos.character > lineText.length) throw bad();
  return lineStart + pos.character;
}

function signalOf(token: CancellationToken): AbortSignal {
  const ctl = new AbortController();
  if (token.isCancellationRequested) ctl.abort();
  else token.onCancellationRequested(() => ctl.abort());
  return ctl.signal;
}

/** Runs a streaming request on the backend: one generation at a time on the local engine. */
async function streaming<T>(streamId: string, token: CancellationToken, fn: (d: GenerateDeps) => Promise<T>): Promise<T> {
  if (typeof streamId !== 'string' || !streamId) throw new ResponseError(ErrorCodes.InvalidParams, 'streamId must be a non-empty string');
  try {
    const { backend, info } = await readyBackend();
    const signal = signalOf(token);
    const deps: GenerateDeps = {
      backend,
      info,
      maxTokens: settings.maxTokens,
      temperature: settings.temperature,
      countTokens: (t) => backend.countTokens(t),
      signal,
      emit: (delta) => void connection.sendNotification(StreamNotification, { streamId, delta }).catch(() => undefined),
    };
    const run = async () => {
      completions.cancelOutdated();
      setStatus({ state: 'generating' });
      try {
        return await fn(deps);
      } finally {
        setStatus({ state: 'ready' });
      }
    };
    const out = settings.backend === 'local' ? await completions.lock.run(signal, run) : await run();
    if (out === undefined) throw new ResponseError(LSPErrorCodes.RequestCancelled, 'cancelled');
    return out;
  } catch (e) {
    throw toResponseError(e);
  }
}

/** Settings applications so far (SettingsAppliedNotification). */
let settingsGeneration = 0;

async function pullSettings(pushed?: unknown): Promise<void> {
  let raw = pushed;
  if (canPullConfiguration) {
    try {
      raw = await connection.workspace.getConfiguration('neoxComplete');
    } catch (e) {
      connection.console.warn(`workspace/configuration failed: ${(e as Error).message}`);
    }
  }
  const { settings: next, problems } = resolveSettings(raw);
  for (const p of problems) connection.console.warn(p);
  settings = next;
  completions.debounce.setting = next.debounceMs;
  completions.invalidate();
  if (backends.apply(next)) {
    const spec = backends.current!;
    setStatus({
      state: next.enabled ? 'starting' : 'disabled',
      backend: next.backend,
      model: spec.kind === 'local' ? spec.modelDir : next.remoteModel || next.remoteUrl,
      modelName: modelName(spec),
      quantization: spec.kind === 'local' ? spec.quant : undefined,
      message: undefined,
    });
    // Start loading now so the first completion does not pay for it; failures show in status.
    if (next.enabled) void backends.ready().catch(() => undefined);
  } else if (!next.enabled) setStatus({ state: 'disabled' });
  // Re-enabled with the same backend (client helper's fix): leave 'disabled' once the backend is ready.
  else if (status.state === 'disabled') void backends.ready().then(() => setStatus({ state: 'ready' }), () => undefined);
  settingsApplied();
  void connection.sendNotification(SettingsAppliedNotification, { generation: ++settingsGeneration }).catch(() => undefined);
}

connection.onInitialize((params: InitializeParams) => {
  init = (params.initializationOptions ?? {}) as NeoxInitializationOptions;
  workspaceRoots = (params.workspaceFolders ?? []).map((f) => f.uri);
  if (params.rootUri) workspaceRoots.push(params.rootUri);
  canPullConfiguration = !!params.capabilities.workspace?.configuration;
  const storage = init.storagePath ?? init.cacheDir;
  stats = new Statistics(storage ? join(storage, 'statistics.json') : undefined);
  backends = new BackendManager(init, {
    onLoading: (_s, p) => setStatus({ state: 'loading', message: p.message, progress: p.fraction }),
    onReady: (spec, info) =>
      setStatus({ state: 'ready', model: info.id, modelName: modelName(spec, spec.kind === 'local' ? undefined : info.id), message: info.description, backend: spec.kind }),
    onError: (_s, e) => setStatus({ state: 'error', message: e.message }),
  });
  return {
    capabilities: {
      textDocumentSync: TextDocumentSyncKind.Incremental,
      inlineCompletionProvider: true,
      workspace: { workspaceFolders: { supported: true } },
    },
    serverInfo: { name: 'neox-complete', version: '0.1.0' },
  };
});

connection.onInitialized(() => {
  void pullSettings();
});

connection.onDidChangeConfiguration((p) => {
  const pushed = (p.settings as Record<string, unknown> | undefined)?.neoxComplete;
  void pullSettings(pushed);
});

documents.onDidOpen((e) => completions.ring.addDocument(e.document.uri, relativePath(e.document.uri, workspaceRoots), e.document.getText()));
documents.onDidChangeContent(() => completions.cancelOutdated());
documents.onDidClose((e) => completions.forgetDocument(e.document.uri));

connection.languages.inlineCompletion.on(async (params, token) => {
  try {
    const doc = documentOrError(params.textDocument.uri);
    const offset = checkPosition(doc, params.position);
    if (!languageEnabled(settings, doc.languageId)) return { items: [] };
    const path = relativePath(doc.uri, workspaceRoots);
    const text = doc.getText();
    completions.ring.addAround(doc.uri, path, text, params.position.line);
    const answer = await completions.complete(
      { uri: doc.uri, path, languageId: doc.languageId, text, offset, invoked: params.context?.triggerKind === 1 },
      signalOf(token),
    );
    lastAnswer = { source: answer.source, latencyMs: answer.latencyMs, promptTokens: answer.promptTokens, promptTokensReused: answer.promptTokensReused, multiline: answer.multiline, finishReasons: answer.finishReasons };
    // Cancelled by the client, or superseded by a newer request: LSP's RequestCancelled.
    if (answer.source === 'cancelled') throw new ResponseError(LSPErrorCodes.RequestCancelled, 'cancelled: a newer request or $/cancelRequest');
    setStatus({ lastLatencyMs: Math.round(answer.latencyMs) });
    const range = { start: params.position, end: params.position };
    const items: InlineCompletionItem[] = answer.texts.map((insertText) => ({
      insertText,
      range,
      command: { title: 'NeoX Complete: accepted', command: INLINE_ACCEPTED_COMMAND, arguments: [answer.completionId] },
    }));
    return { items };
  } catch (e) {
    throw toResponseError(e);
  }
});

connection.onRequest(GenerateFromCommentRequest, async (p, token) => {
  const doc = documentOrError(p.textDocument?.uri);
  checkPosition(doc, p.position);
  return streaming(p.streamId, token, (d) =>
    generateFromComment({ uri: doc.uri, path: relativePath(doc.uri, workspaceRoots), languageId: doc.languageId, text: doc.getText() }, p.position.line, d),
  );
});

connection.onRequest(GenerateFileRequest, (p, token) => streaming(p.streamId, token, (d) => generateFile(p, d)));
connection.onRequest(ChatRequest, (p, token) => streaming(p.streamId, token, (d) => chat(p, d)));
connection.onRequest(GetStatusRequest, () => status);
connection.onRequest(GetStatisticsRequest, () => stats.snapshot());
connection.onRequest(ListModelsRequest, () => {
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
  return { models };
});

connection.onNotification(SetSecretsNotification, (p) => backends.setApiKey(p?.apiKey || undefined));
connection.onNotification(CompletionEventNotification, (p) => {
  if (p && ['shown', 'accepted', 'partiallyAccepted', 'dismissed'].includes(p.kind)) stats.event(p.kind);
});

/** Bench and diagnostics hook: how the last inline request was answered. */
let lastAnswer: LastCompletionResult = {};
connection.onRequest(DebugLastCompletionRequest, () => lastAnswer);

/** Test and diagnostics hook: how many inline generations are running right now. */
connection.onRequest(DebugInFlightRequest, () => ({ inFlight: completions.inFlight, lockRunning: completions.lock.running }));

connection.onShutdown(async () => {
  stats.flush();
  await stopSyntaxWorker();
  await backends.dispose();
});

// Nothing unhandled may take the server (and every open editor's completions) down.
process.on('uncaughtException', (e) => connection.console.error(`uncaught: ${e.stack ?? e.message}`));
process.on('unhandledRejection', (e) => connection.console.error(`unhandled rejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`));

documents.listen(connection);
connection.listen();
