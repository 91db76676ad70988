/**
 * Settings of a remote backend, checked once when the backend is created so that a typo in
 * a URL or a number shows up as one clear error naming the field, not as a failed request later.
 */
import { NeoxError, REMOTE_CHAT_TEMPLATES, REMOTE_TIMEOUT_DEFAULTS, type BackendKind, type RemoteChatTemplate } from '../types';

export type RemoteApiKind = Exclude<BackendKind, 'local'>;

export interface RemoteSettings {
  /** API kind: 'openai' (vLLM, TGI's /v1 routes, llama.cpp server, `neox serve`) or 'tgi' (TGI's native /generate_stream). */
  kind: RemoteApiKind;
  /** Base URL, e.g. http://gpu-box:8000 (a trailing /v1 is accepted and dropped). */
  url: string;
  /** Model name sent as `model` (OpenAI kind). Empty: the first model /v1/models lists. */
  model?: string;
  /** Sent as `Authorization: Bearer <key>`. Comes from VS Code SecretStorage, never from settings. */
  apiKey?: string;
  /** Time to open the TCP (and TLS) connection. Default 5000. */
  connectTimeoutMs?: number;
  /** Time from sending a request to its first token (streaming) or its whole answer (non-streaming). Default 30000. */
  firstTokenTimeoutMs?: number;
  /** Longest silence allowed between two streamed events once tokens flow. Default 30000. */
  idleTimeoutMs?: number;
  /** Retries after 429 or 503 (nothing else is retried). Default 3. */
  maxRetries?: number;
  /** First backoff delay; doubles each retry unless the server sends Retry-After. Default 500. */
  retryBaseMs?: number;
  /** A Retry-After longer than this fails the request instead of waiting. Default 20000. */
  maxRetryDelayMs?: number;
  /** Extra PEM file of CA certificates to trust (on top of Node's and the system's). */
  caFile?: string;
  /** tokenizer.json used to count prompt tokens (default: the bundled GPT-NeoX-20B tokenizer). */
  tokenizerPath?: string;
  /** Context length to assume when the server does not report one. Default 2048 (GPT-NeoX-20B). */
  contextLength?: number;
  /** Where chats are rendered (chat-route.ts). Default 'auto'. */
  chatTemplate?: RemoteChatTemplate;
}

export type ResolvedRemoteSettings = Required<Omit<RemoteSettings, 'model' | 'apiKey' | 'caFile' | 'tokenizerPath'>> &
  Pick<RemoteSettings, 'model' | 'apiKey' | 'caFile' | 'tokenizerPath'> & { baseUrl: URL };

/** Defaults of the numeric settings (the language server's neoxComplete.remote* defaults come from here). */
export const REMOTE_DEFAULTS = {
  connectTimeoutMs: REMOTE_TIMEOUT_DEFAULTS.connectTimeoutMs as number,
  firstTokenTimeoutMs: REMOTE_TIMEOUT_DEFAULTS.firstTokenTimeoutMs as number,
  idleTimeoutMs: 30000,
  maxRetries: 3,
  retryBaseMs: 500,
  maxRetryDelayMs: 20000,
  contextLength: 2048,
};

export function resolveRemoteSettings(s: RemoteSettings): ResolvedRemoteSettings {
  if (s.kind !== 'openai' && s.kind !== 'tgi') {
    throw new NeoxError(`neoxComplete.backend: unknown remote API kind "${String(s.kind)}" (use "openai" or "tgi")`, 'bad_setting');
  }
  let baseUrl: URL;
  try {
    baseUrl = new URL(s.url);
  } catch {
    throw new NeoxError(`neoxComplete.remoteUrl: "${s.url}" is not a URL (expected e.g. http://gpu-box:8000)`, 'bad_setting');
  }
  if (baseUrl.protocol !== 'http:' && baseUrl.protocol !== 'https:') {
    throw new NeoxError(`neoxComplete.remoteUrl: "${s.url}" must start with http:// or https://`, 'bad_setting');
  }
  // Users paste either the server root or the OpenAI base (…/v1); requests add /v1 themselves.
  baseUrl.pathname = baseUrl.pathname.replace(/\/+$/, '').replace(/\/v1$/, '') + '/';
  baseUrl.search = '';
  baseUrl.hash = '';
  const chatTemplate = s.chatTemplate ?? 'auto';
  if (!(REMOTE_CHAT_TEMPLATES as readonly string[]).includes(chatTemplate)) {
    throw new NeoxError(`neoxComplete.remoteChatTemplate: unknown value "${String(chatTemplate)}" (use ${REMOTE_CHAT_TEMPLATES.join(', ')})`, 'bad_setting');
  }
  const out = { ...REMOTE_DEFAULTS } as Record<string, number>;
  for (const key of Object.keys(REMOTE_DEFAULTS) as (keyof typeof REMOTE_DEFAULTS)[]) {
    const v = s[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new NeoxError(`remote setting ${key}: expected a non-negative number, got ${JSON.stringify(v)}`, 'bad_setting');
    }
    out[key] = v;
  }
  return {
    ...(out as typeof REMOTE_DEFAULTS),
    kind: s.kind,
    url: s.url,
    chatTemplate,
    baseUrl,
    model: s.model || undefined,
    apiKey: s.apiKey || undefined,
    caFile: s.caFile || undefined,
    tokenizerPath: s.tokenizerPath || undefined,
  };
}

/** `path` below the base URL, e.g. endpoint(base, 'v1/completions'). */
export function endpoint(base: URL, path: string): URL {
  return new URL(path.replace(/^\/+/, ''), base);
}
