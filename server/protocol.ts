/**
 * The contract between the extension (client/) and the language server (server/):
 * every custom LSP method, with typed params and results, declared once here and
 * imported by both sides (Tabby's tabby-agent protocol.ts is the model).
 *
 * Standard LSP is used where it exists: `textDocument/inlineCompletion` (LSP 3.18)
 * for ghost text, `workspace/configuration` for settings.
 *
 * Streaming: a long request (generate from comment, generate file, chat) returns its
 * final result as the response, and sends `neox/stream` notifications with the same
 * `streamId` (chosen by the client) while it runs. Every request is cancellable with
 * the standard `$/cancelRequest` (vscode-jsonrpc CancellationToken).
 */
import { NotificationType, RequestType, RequestType0 } from 'vscode-languageserver-protocol';
import type { Position, Range } from 'vscode-languageserver-protocol';

// ---------- settings (workspace/configuration section "neoxComplete") ----------

export type BackendKind = 'local' | 'openai' | 'tgi';
export type Quantization = 'fp32' | 'int8' | 'int4';

export interface NeoxSettings {
  enabled: boolean;
  backend: BackendKind;
  /** Local engine: checkpoint folder ('' = the embedded default model). */
  modelPath: string;
  quantization: Quantization;
  /** Remote: base URL (e.g. http://gpu-box:8000), model name. */
  remoteUrl: string;
  remoteModel: string;
  maxTokens: number;
  temperature: number;
  /** Debounce in ms; 'auto' adapts to measured latency. */
  debounceMs: number | 'auto';
  /** Language ids where inline completion is on ('*' = all). */
  enabledLanguages: string[];
  /** Prompt budget in tokens (prefix + suffix + snippets), capped by the model's context. */
  contextBudget: number;
}

/** Sent by the client after start and when the API key changes (secrets never go through settings). */
export interface SetSecretsParams {
  apiKey?: string;
}
export const SetSecretsNotification = new NotificationType<SetSecretsParams>('neox/setSecrets');

// ---------- streaming ----------

export interface StreamParams {
  streamId: string;
  /** Text to append to what was streamed so far. */
  delta: string;
  /** Choice index when several are streamed. */
  index?: number;
}
export const StreamNotification = new NotificationType<StreamParams>('neox/stream');

// ---------- generate from comment / docstring ----------

export interface GenerateFromCommentParams {
  streamId: string;
  textDocument: { uri: string };
  position: Position;
}
export interface GenerateFromCommentResult {
  /** Where the generated code goes (an empty range: an insertion). */
  range: Range;
  text: string;
  /** The comment that was used, for the UI. */
  comment: string;
  finishReason: string;
}
export const GenerateFromCommentRequest = new RequestType<GenerateFromCommentParams, GenerateFromCommentResult, void>(
  'neox/generateFromComment',
);

// ---------- generate a whole file ----------

export interface GenerateFileParams {
  streamId: string;
  description: string;
  /** File name; its extension picks the language. */
  fileName: string;
  languageId?: string;
}
export interface GenerateFileResult {
  text: string;
  finishReason: string;
}
export const GenerateFileRequest = new RequestType<GenerateFileParams, GenerateFileResult, void>('neox/generateFile');

// ---------- chat ----------

export interface ChatTurn {
  role: 'user' | 'assistant';
  content: string;
}
export interface ChatContext {
  /** Attached selection or file. */
  fileName?: string;
  languageId?: string;
  text: string;
}
export interface ChatParams {
  streamId: string;
  messages: ChatTurn[];
  context?: ChatContext[];
}
export interface ChatResult {
  content: string;
  finishReason: string;
}
export const ChatRequest = new RequestType<ChatParams, ChatResult, void>('neox/chat');

// ---------- status ----------

export type EngineState = 'starting' | 'loading' | 'ready' | 'generating' | 'error' | 'disabled';
export interface StatusParams {
  state: EngineState;
  backend: BackendKind;
  /** Local: the checkpoint folder's path; remote: the model id (or the URL before it is known). */
  model: string;
  /**
   * What to call the model in the UI: a local checkpoint's folder name (e.g. neox-code-23m), a remote
   * model's id. Paths are too long for the status bar and progress notifications. Absent: derive from `model`.
   */
  modelName?: string;
  /** The precision a local model runs in; absent for remote backends (the server decides theirs). */
  quantization?: Quantization;
  /** Latency of the last completion, ms. */
  lastLatencyMs?: number;
  message?: string;
  /** Load/convert progress 0..1 when known. */
  progress?: number;
}
/** Server -> client whenever the state changes. */
export const StatusNotification = new NotificationType<StatusParams>('neox/status');
/** Client -> server: current status on demand. */
export const GetStatusRequest = new RequestType0<StatusParams, void>('neox/getStatus');

// ---------- settings applied ----------

export interface SettingsAppliedParams {
  /**
   * How many times the server has applied settings, counting from 1: the pull after `initialized`
   * is 1, each `workspace/didChangeConfiguration` adds one. The n-th application used the n-th
   * `workspace/configuration` answer the client gave.
   */
  generation: number;
}
/**
 * Server -> client, after settings pulled with `workspace/configuration` (or pushed with
 * `workspace/didChangeConfiguration`) are in effect: every request sent after this notification
 * arrives is served with them. A backend rebuild they cause may still be loading (follow
 * `neox/status`). Clients may ignore it; tests wait on it instead of sleeping.
 */
export const SettingsAppliedNotification = new NotificationType<SettingsAppliedParams>('neox/settingsApplied');

// ---------- acceptance events and statistics ----------

export type CompletionEventKind = 'shown' | 'accepted' | 'partiallyAccepted' | 'dismissed';
export interface CompletionEventParams {
  /** The id the server put in the inline item's command arguments. */
  completionId: string;
  kind: CompletionEventKind;
  /** For partial acceptance: characters accepted. */
  acceptedLength?: number;
}
export const CompletionEventNotification = new NotificationType<CompletionEventParams>('neox/completionEvent');

export interface StatisticsResult {
  shown: number;
  accepted: number;
  partiallyAccepted: number;
  dismissed: number;
  requests: number;
  cacheHits: number;
  typedThroughHits: number;
  latencyMs: { p50: number; p90: number; p95: number; p99: number; count: number };
}
export const GetStatisticsRequest = new RequestType0<StatisticsResult, void>('neox/getStatistics');

// ---------- models ----------

export interface ListedModel {
  /** Local: the checkpoint folder; remote: the model id. */
  id: string;
  backend: BackendKind;
  description?: string;
  /** What the model picker shows as its label (a folder or model name, never a whole path). */
  name?: string;
  /** Where it lives (a folder or a server URL): the picker's detail line. */
  location?: string;
  /** The model the current settings select. */
  current?: boolean;
  /** The embedded default model: selecting it sets modelPath to '' (not to its folder inside the extension). */
  embedded?: boolean;
}
export interface ListModelsResult {
  models: ListedModel[];
}
export const ListModelsRequest = new RequestType0<ListModelsResult, void>('neox/listModels');

// ---------- additions (server helper): defaults, initialization options, inline item command ----------

/** Values the server uses for any setting the client leaves out (the client's package.json defaults match). */
export const DEFAULT_SETTINGS: NeoxSettings = {
  enabled: true,
  backend: 'local',
  modelPath: '',
  quantization: 'int8',
  remoteUrl: '',
  remoteModel: '',
  maxTokens: 64,
  temperature: 0,
  debounceMs: 'auto',
  enabledLanguages: ['*'],
  contextBudget: 1536,
};

/** Optional extra settings (same section); absent means the server default shown. */
export interface NeoxExtraSettings {
  /** Candidates per explicitly invoked request, for cycling (default 3; automatic requests get 1). */
  candidates?: number;
  /** Longest multi-line suggestion in lines (default 12). */
  maxLines?: number;
  /** Include snippets of other open / recently edited files in the prompt (default true). */
  crossFileContext?: boolean;
  /** Remote: extra PEM file of CA certificates to trust (a company CA), on top of Node's and the system's. */
  remoteCaFile?: string;
  /** Remote: time to open the connection, ms (default 5000). */
  remoteConnectTimeoutMs?: number;
  /** Remote: time from sending a request to its first token, ms (default 30000; a 20B model under load is slow). */
  remoteFirstTokenTimeoutMs?: number;
}

/** `initializationOptions` of the initialize request. */
export interface NeoxInitializationOptions {
  extensionPath?: string;
  /** The embedded default checkpoint (used when settings.modelPath is ''). */
  defaultModelPath?: string;
  /** Per-user folder for converted ONNX models. */
  cacheDir?: string;
  /** Folder for the local statistics file (statistics.json); default cacheDir; none: kept in memory only. */
  storagePath?: string;
}

/**
 * Inline items carry `{ command: INLINE_ACCEPTED_COMMAND, arguments: [completionId] }`; the client
 * registers the command and reports `accepted` with CompletionEventNotification.
 */
export const INLINE_ACCEPTED_COMMAND = 'neoxComplete.inlineAccepted';

// ---------- diagnostics (used by tests and benchmarks; no UI) ----------

/** How the last inline request was answered: 'generated', 'cache', 'typedThrough', ... and its cost. */
export interface LastCompletionResult {
  source?: string;
  latencyMs?: number;
  promptTokens?: number;
  promptTokensReused?: number;
  multiline?: boolean;
  /**
   * The backend's finish reason per candidate when the request reached a generation ('cancelled':
   * the engine stopped between two tokens because the request was aborted).
   */
  finishReasons?: string[];
}
export const DebugLastCompletionRequest = new RequestType0<LastCompletionResult, void>('neox/debug/lastCompletion');

/** Inline generations running right now, and generations holding the engine lock. */
export interface InFlightResult {
  inFlight: number;
  lockRunning: number;
}
export const DebugInFlightRequest = new RequestType0<InFlightResult, void>('neox/debug/inFlight');
