/**
 * The one interface every backend implements: the local ONNX engine, the
 * OpenAI-compatible adapter and the TGI adapter. The language server and
 * `neox serve` only ever talk to a `CompletionBackend`.
 */

export type FinishReason = 'length' | 'stop' | 'eos' | 'cancelled';

/** Where completions are computed: the local ONNX engine, an OpenAI-compatible server, a TGI server. */
export const BACKEND_KINDS = ['local', 'openai', 'tgi'] as const;
export type BackendKind = (typeof BACKEND_KINDS)[number];

/** Weight precision of a locally built ONNX model. */
export const QUANTIZATIONS = ['fp32', 'int8', 'int4'] as const;
export type Quantization = (typeof QUANTIZATIONS)[number];

/**
 * Default timeouts of a remote backend, ms (engine/remote/settings.ts applies them; the
 * neoxComplete.remoteConnectTimeoutMs / remoteFirstTokenTimeoutMs settings default to them).
 */
export const REMOTE_TIMEOUT_DEFAULTS = {
  /** Time to open the TCP (and TLS) connection. */
  connectTimeoutMs: 5000,
  /** Time from sending a request to its first token (a 20B model under load is slow). */
  firstTokenTimeoutMs: 30000,
} as const;

/**
 * Where a chat against a remote server is rendered (engine/remote/chat-route.ts): 'auto' follows
 * whether the server reports a chat template of the model's own; 'server' uses its chat route;
 * 'local' renders the model family's format here and sends it as a plain completion.
 */
export const REMOTE_CHAT_TEMPLATES = ['auto', 'server', 'local'] as const;
export type RemoteChatTemplate = (typeof REMOTE_CHAT_TEMPLATES)[number];

/** Decoding settings shared by every backend (names follow the OpenAI API, camel-cased). */
export interface DecodingOptions {
  /** Upper bound on generated tokens. */
  maxTokens: number;
  /** 0 (or undefined) means greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  /** Hugging Face semantics: logits of already-present tokens divided (positive) / multiplied (negative) by this. */
  repetitionPenalty?: number;
  seed?: number;
  /** Generation stops before the first occurrence of any of these strings; the stop string is not returned. */
  stop?: string[];
  /** Number of independent samples to return. */
  n?: number;
  /** Beam search (local engine; remote backends may reject it). */
  numBeams?: number;
  lengthPenalty?: number;
  earlyStopping?: boolean;
}

export interface CompletionRequest extends DecodingOptions {
  prompt: string;
  /**
   * The prompt already tokenized with this backend's tokenizer (see `tokenize`), so it is not
   * encoded twice; backends without a tokenizer ignore it.
   */
  promptIds?: number[];
  /** Aborting stops generation between two tokens; the result then has finishReason 'cancelled'. */
  signal?: AbortSignal;
}

/**
 * Chat prompt formats (snippets/chat/formats.json describes each): 'checkpoint' is the checkpoint's own
 * chat_template (tokenizer_config.json); 'server' (reported only) means a remote server rendered it.
 */
export const CHAT_FORMATS = ['checkpoint', 'neoxt-chat', 'dolly-v2', 'stablelm-tuned-alpha', 'redpajama-chat', 'redpajama-instruct', 'base'] as const;
export type ChatFormat = (typeof CHAT_FORMATS)[number];

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatRequest extends DecodingOptions {
  messages: ChatMessage[];
  /** The prompt format; absent or 'auto': chosen from the checkpoint (engine/chat-template.ts). */
  format?: ChatFormat | 'auto';
  signal?: AbortSignal;
}

/** One streamed piece of text for choice `index` (always whole characters, never half a UTF-8 sequence). */
export interface TextChunk {
  index: number;
  text: string;
}

export interface Choice {
  index: number;
  text: string;
  /** Generated token ids, where the backend knows them. */
  tokenIds?: number[];
  finishReason: FinishReason;
}

export interface CompletionResult {
  choices: Choice[];
  usage: { promptTokens: number; completionTokens: number };
  /** Milliseconds; filled where measured. */
  timings?: { firstTokenMs?: number; totalMs?: number; promptTokensReused?: number };
  /** chat(): the format the prompt was rendered in (a CHAT_FORMATS name, or 'server' when a remote server rendered it). */
  chatFormat?: string;
}

export interface LoadProgress {
  /** e.g. 'read-config', 'convert', 'load', 'ready' */
  stage: string;
  message: string;
  /** 0..1 when known */
  fraction?: number;
}

/** One input of `embed`: a text, or token ids of the backend's own tokenizer (as OpenAI's /v1/embeddings takes them). */
export type EmbedInput = string | number[];

/** What `embed` computes for each text. */
export interface EmbedOptions {
  /**
   * Hidden state to pool, numbered as transformers' output_hidden_states: 0 = token embeddings,
   * k = output of block k, the number of blocks (the default) = after the final layer norm.
   */
  layer?: number;
  /** 'mean' (default): mean over the text's tokens; 'last': the last token's hidden state. */
  pooling?: 'mean' | 'last';
  /** Scale each vector to unit L2 norm (default false). */
  normalize?: boolean;
  /** Keep a text's first context-length tokens instead of refusing a longer one (default false). */
  truncate?: boolean;
  signal?: AbortSignal;
}

export interface ModelInfo {
  /** Model name or folder */
  id: string;
  backend: BackendKind;
  /** Maximum prompt + completion tokens. */
  contextLength: number;
  /**
   * The backend queues (or batches) its own generations: overlapping calls are safe and run in
   * turn, so a call may wait behind another one before its first token (the local engine).
   * False: calls run side by side (a remote server schedules them).
   */
  serializesGenerations: boolean;
  /**
   * The backend can embed text (CompletionBackend.embed; a workspace index needs it): the local engine,
   * and OpenAI-compatible servers, whose /v1/embeddings may still be missing (the first call says so).
   */
  canEmbed: boolean;
  /** Free-form description for the status bar / `neox info`. */
  description?: string;
}

export interface CompletionBackend {
  /** Load (local) or connect and check (remote). Idempotent; later calls return the same promise. */
  load(onProgress?: (p: LoadProgress) => void): Promise<ModelInfo>;
  complete(req: CompletionRequest, onChunk?: (c: TextChunk) => void): Promise<CompletionResult>;
  chat(req: ChatRequest, onChunk?: (c: TextChunk) => void): Promise<CompletionResult>;
  /** Token count of `text` (exact for local, may be estimated for remote). Used for prompt budgets. */
  countTokens(text: string): Promise<number>;
  /** One vector per input, where the backend can embed (ModelInfo.canEmbed). */
  embed?(inputs: EmbedInput[], opts?: EmbedOptions): Promise<number[][]>;
  /** The prompt chat(req) would send and its format, where the backend renders chat prompts itself (exact fitting). */
  renderChat?(req: ChatRequest): Promise<{ prompt: string; format: string }>;
  /** Token ids of `text`, where the backend has its own tokenizer: what `promptIds` takes. */
  tokenize?(text: string): Promise<number[]>;
  /** Cheap liveness check for the status bar. */
  health(): Promise<{ ok: boolean; message?: string }>;
  dispose(): Promise<void>;
}

/** Errors that carry a message fit for a user: one line naming the file, field or URL at fault. */
export class NeoxError extends Error {
  constructor(
    message: string,
    readonly code: string = 'neox_error',
  ) {
    super(message);
    this.name = 'NeoxError';
  }
}

/** A model download's progress, as the Hub downloader reports it (the CLI and the editor show it). */
export interface DownloadProgress {
  repo: string;
  /** Bytes received in this run plus bytes already on disk (resumed or cached), of `totalBytes`. */
  doneBytes: number;
  totalBytes: number;
  filesDone: number;
  filesTotal: number;
  /** Bytes per second over the last few seconds (0 before the first measure). */
  bytesPerSecond: number;
  /** Seconds left at that speed; undefined while it is unknown. */
  secondsLeft?: number;
  /** The file that just started, finished, resumed or was verified, if any. */
  file?: string;
  event?: 'start' | 'resume' | 'done' | 'cached';
}
