/**
 * The contract between the extension (client/) and the language server (server/): every custom
 * LSP method, with its direction, typed params and results, declared once here and imported by
 * both sides (as Tabby's tabby-agent protocol.ts does). The settings table is protocol/settings.ts;
 * methods only tests use are protocol/debug.ts.
 *
 * Standard LSP is used where it exists: `textDocument/inlineCompletion` (LSP 3.18) for ghost text,
 * `workspace/configuration` (section "neoxComplete") for settings.
 *
 * Streaming: a long request (generate from comment, generate file, chat) returns its final result
 * as the response, and sends `neox/stream` notifications with the same `streamId` (chosen by the
 * client) while it runs. Every request is cancellable with the standard `$/cancelRequest`
 * (vscode-jsonrpc CancellationToken).
 *
 * Dependencies: vscode-languageserver-protocol and engine/types.ts only (a tsconfig project reference).
 */
import { NotificationType, RequestType, RequestType0 } from 'vscode-languageserver-protocol';
import type { Position, Range } from 'vscode-languageserver-protocol';
import type { BackendKind, ChatFormat, DownloadProgress, Quantization } from '../engine/types';

export type { BackendKind, Quantization } from '../engine/types';
export { DEFAULT_SETTINGS, SETTINGS, SETTING_ENTRIES, contributedConfiguration, defaultOf, defaultSettings } from './settings';
export type { NeoxSettings, SettingKey, SettingSpec } from './settings';

// ---------- initialization ----------

/** `initializationOptions` of the initialize request (client -> server). */
export interface NeoxInitializationOptions {
  extensionPath?: string;
  /** The embedded default checkpoint (used when settings.modelPath is ''). */
  defaultModelPath?: string;
  /** Per-user folder for converted ONNX models. */
  cacheDir?: string;
  /** Folder for the local statistics file (statistics.json); default cacheDir; none: kept in memory only. */
  storagePath?: string;
  /** Register the test-only methods of protocol/debug.ts (set by the LSP test harness and benchmarks, never by the extension). */
  testHooks?: boolean;
  /** Backend health poll while healthy, ms (default 5000; tests shorten it); the backoff while failing starts at the smaller of this and 1 s. */
  healthPollMs?: number;
  /**
   * The editor's storage folder for this workspace (ExtensionContext.storageUri): the workspace index
   * lives in its `workspace-index/` folder. Absent (no folder open): no workspace index.
   */
  workspaceStoragePath?: string;
}

/**
 * The command inline items carry: `{ command: INLINE_ACCEPTED_COMMAND, arguments: [completionId] }`.
 * The client registers it and reports `accepted` with CompletionEventNotification.
 */
export const INLINE_ACCEPTED_COMMAND = 'neoxComplete.inlineAccepted';

// ---------- secrets ----------

export interface SetSecretsParams {
  apiKey?: string;
  /** Hugging Face access token for gated and private models ("NeoX: Set Hugging Face token"); absent: HF_TOKEN / the saved login. */
  hfToken?: string;
}
/** Client -> server notification, after start and when the API key or the Hugging Face token changes (secrets never go through settings). */
export const SetSecretsNotification = new NotificationType<SetSecretsParams>('neox/setSecrets');

// ---------- streaming ----------

export interface StreamParams {
  streamId: string;
  /** Text to append to what was streamed so far. */
  delta: string;
  /** Choice index when several are streamed. */
  index?: number;
}
/** Server -> client notification: a piece of the answer to the running request with this `streamId`. */
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
/** Client -> server request: code for the comment or docstring at or above `position`, streamed with `neox/stream`. */
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
/** Client -> server request: a new file from a description, streamed with `neox/stream`. */
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
  /**
   * The lines of `text` the user selected or has the cursor on (0-based, endLine included). When the
   * attachment does not fit the model's context, these lines are kept whole with as much of the text
   * above and below them as fits, balanced; without it the start of the text is kept.
   */
  selection?: ChatLines;
}
export interface ChatLines {
  startLine: number;
  endLine: number;
}
/** What of one attachment was left out to fit the model's context: it kept lines [keptFrom, keptTo) of its text. */
export interface ChatAttachmentCut {
  fileName?: string;
  /** Lines of the attachment's text. */
  lines: number;
  /** The kept piece: from line keptFrom (0-based) up to keptTo (excluded); equal when nothing was kept. */
  keptFrom: number;
  keptTo: number;
  /** Characters cut off the end of the last kept line, when only its start fit (a very long line). */
  lineCut?: number;
  /** Characters left out in all. */
  chars: number;
  /** The attachment's selection (ChatContext.selection) the piece was kept around. */
  selection?: ChatLines;
}
export interface ChatParams {
  streamId: string;
  messages: ChatTurn[];
  context?: ChatContext[];
  /** The prompt format (a CHAT_FORMATS name); absent or 'auto': the neoxComplete.chatFormat setting. */
  format?: ChatFormat | 'auto';
  /** Turns of the conversation before `messages` that the client kept back: counted in what the answer says was left out. */
  earlierTurns?: number;
}
export interface ChatResult {
  content: string;
  finishReason: string;
  /** The prompt format the answer was generated with (CHAT_FORMATS, or 'server': a remote server's own template). */
  format?: string;
  /**
   * What did not fit in the model's context: the oldest turns dropped, the attachment characters cut,
   * and (present when some were cut) what each cut attachment kept.
   */
  omitted?: { turns: number; attachmentChars: number; attachments?: ChatAttachmentCut[] };
  /** The format's name for people, for the chat view ("GPT-NeoXT-Chat": snippets/chat/formats.json `label`). */
  formatLabel?: string;
  /** What was left out to fit the model's context, in words for the chat view; absent when nothing was. */
  notice?: string;
  /** The workspace code the answer was given (found by the workspace index), for the chat view's links. */
  sources?: CodeLocation[];
}
/** Client -> server request: the assistant's answer to the conversation, streamed with `neox/stream`. */
export const ChatRequest = new RequestType<ChatParams, ChatResult, void>('neox/chat');

// ---------- explain ----------

export interface ExplainQuestionParams {
  /** The language of the code to explain (picks snippets/explain/<languageId>.txt). */
  languageId: string;
  /** Its file, workspace-relative, named in the question. */
  fileName?: string;
}
export interface ExplainQuestionResult {
  question: string;
}
/**
 * Client -> server request: the question "NeoX: Explain the selection in chat" asks about the attached
 * code, from the prompt files (snippets/explain/, overridden by the workspace's .neox/snippets/explain/).
 */
export const ExplainQuestionRequest = new RequestType<ExplainQuestionParams, ExplainQuestionResult, void>('neox/explainQuestion');

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
  /** The workspace index; absent when there is none (no folder, neoxComplete.index.enabled off). */
  index?: IndexStatus;
}
/** Server -> client notification, whenever the state changes. */
export const StatusNotification = new NotificationType<StatusParams>('neox/status');
/** Client -> server request: the current status, on demand. */
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
 * Server -> client notification, after settings pulled with `workspace/configuration` (or pushed with
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
/** Client -> server notification: what the user did with a suggestion (counted in the local statistics). */
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
/** Client -> server request: the local completion statistics. */
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
  /** A model of the curated catalogue (engine/catalogue.json) on the Hugging Face Hub; `id` is its Hub id. */
  hub?: HubModelListing;
}
/** What the picker shows of a catalogue model: sizes, memory per precision and fit on the server's machine, cache state. */
export interface HubModelListing {
  /** Hub id, ORG/NAME. */
  repo: string;
  parameters: number;
  downloadBytes: number;
  /** Estimated memory for the first start at each precision (engine/local/memory.ts; int4 at block size 32), bytes. */
  memoryBytes: Record<Quantization, number>;
  /** Whether each precision fits the memory available (with a margin). */
  fits: Record<Quantization, boolean>;
  /** Memory available on the server's machine, bytes. */
  freeBytes: number;
  /** The precision the settings select (neoxComplete.quantization): the one the row describes. */
  quantization: Quantization;
  /** The snapshot folder when the model is already in the Hugging Face cache; absent: it must be downloaded. */
  cachedDir?: string;
}
/** A LoRA adapter the model picker offers for the local model (neoxComplete.adapters, and the chosen neoxComplete.adapter). */
export interface ListedAdapter {
  /** Its folder: what choosing it sets neoxComplete.adapter to. */
  path: string;
  /** The folder's name, the picker row's label. */
  name: string;
  /** From its adapter_config.json ("LoRA r=8, lora_alpha 16 on query_key_value"), or why it cannot be used. */
  description: string;
  /** Set when the folder is not a usable LoRA adapter (missing files, not LoRA, bad JSON). */
  problem?: boolean;
  /** The adapter this workspace's settings choose (neoxComplete.adapter). */
  current: boolean;
}
export interface ListModelsResult {
  models: ListedModel[];
  /** The adapters to choose from (none, or one per workspace); absent when neoxComplete.adapters is empty and none is chosen. */
  adapters?: ListedAdapter[];
}
/** Client -> server request: the models the model picker offers (local checkpoints and the remote server's). */
export const ListModelsRequest = new RequestType0<ListModelsResult, void>('neox/listModels');

// ---------- Hugging Face Hub downloads ----------

export interface DownloadModelParams {
  /** Hub id, ORG/NAME or ORG/NAME@REVISION. */
  repo: string;
  /** Chosen by the client; echoed in each neox/downloadProgress of this download. */
  downloadId?: string;
}
export interface DownloadModelResult {
  /** ORG/NAME. */
  repo: string;
  revision: string;
  /** The commit the revision pointed at. */
  commit: string;
  /** snapshots/<commit> in the Hugging Face cache: the folder the model loads from. */
  snapshotDir: string;
  /** Size of the model's files, and how much of it this download transferred (the rest was cached or resumed). */
  totalBytes: number;
  downloadedBytes: number;
}
/**
 * Client -> server request: download a GPT-NeoX-family checkpoint from the Hub (neoxComplete.hubUrl,
 * else HF_ENDPOINT) into the Hugging Face cache, with the token of neox/setSecrets (else HF_TOKEN).
 * Progress comes as neox/downloadProgress; `$/cancelRequest` stops it (partial files stay, to be
 * resumed; no complete snapshot is left). When neoxComplete.modelPath names this model, the server
 * loads it once the download is done. Errors carry the engine's message (a `hub_*` code in `data`).
 */
export const DownloadModelRequest = new RequestType<DownloadModelParams, DownloadModelResult, void>('neox/downloadModel');

export interface DownloadProgressParams extends DownloadProgress {
  downloadId?: string;
}
/** Server -> client notification: progress of a running neox/downloadModel (at most ~10 a second). */
export const DownloadProgressNotification = new NotificationType<DownloadProgressParams>('neox/downloadProgress');

export interface ModelNotDownloadedParams {
  /** neoxComplete.modelPath as set: a Hub id that is not in the Hugging Face cache. */
  ref: string;
  message: string;
}
/**
 * Server -> client notification: the selected model is a Hub id not in the cache (the status is the
 * error "not downloaded: run NeoX: Download model"). The client asks the user before downloading.
 */
export const ModelNotDownloadedNotification = new NotificationType<ModelNotDownloadedParams>('neox/modelNotDownloaded');

// ---------- workspace index ----------

/**
 * off: disabled or unavailable (the message says why); starting: opening or rebuilding the index;
 * scanning: comparing the folders with it; indexing: files being read and embedded; paused: by the
 * user (neox/indexControl); ready: up to date; error: stopped (the message says why).
 */
export type IndexState = 'off' | 'starting' | 'scanning' | 'indexing' | 'paused' | 'ready' | 'error';
export interface IndexStatus {
  state: IndexState;
  /** Of the files queued since the last scan, how many are done. */
  filesDone: number;
  filesTotal: number;
  /** Files and chunks in the index. */
  files: number;
  chunks: number;
  message?: string;
}

/** A range of lines of a workspace file. */
export interface CodeLocation {
  uri: string;
  /** Workspace-relative path, for display. */
  path: string;
  /** 0-based, inclusive. */
  startLine: number;
  endLine: number;
}

/** hybrid: keyword and vector rankings fused; vector: by meaning only; keyword: by identifiers and words only. */
export const SEARCH_MODES = ['hybrid', 'vector', 'keyword'] as const;
export type SearchMode = (typeof SEARCH_MODES)[number];
export interface SearchWorkspaceParams {
  query: string;
  /** Results wanted (default 20, at most 100). */
  limit?: number;
  /** Default 'hybrid': keyword and vector rankings fused. */
  mode?: SearchMode;
}
export interface SearchResultItem extends CodeLocation {
  /** Names of the definitions in the chunk ('' for none). */
  name: string;
  /** The chunk's first lines. */
  preview: string;
  score: number;
}
export interface SearchWorkspaceResult {
  results: SearchResultItem[];
  /** The index's state when it answered (results may be partial while it is indexing). */
  index: IndexStatus;
}
/** Client -> server request: chunks of workspace code matching `query` ("NeoX: Search workspace"). */
export const SearchWorkspaceRequest = new RequestType<SearchWorkspaceParams, SearchWorkspaceResult, void>('neox/searchWorkspace');

export interface IndexControlParams {
  /** pause: stop indexing until resumed (also across file changes); resume; rebuild: index every file again from scratch. */
  action: 'pause' | 'resume' | 'rebuild';
}
/** Client -> server request: pause, resume or rebuild the workspace index; answers its status after the change. */
export const IndexControlRequest = new RequestType<IndexControlParams, IndexStatus, void>('neox/indexControl');
