/**
 * OpenAI-compatible adapter: /v1/completions, /v1/chat/completions (SSE or whole), /v1/models,
 * /v1/embeddings (openai-embed.ts).
 * Speaks to vLLM, TGI's /v1 routes, llama.cpp's server and our own `neox serve`.
 *
 * Wire details that differ between those servers and that this file handles:
 * - vLLM reports `max_model_len` per model in /v1/models; others do not (we fall back to the
 *   contextLength setting).
 * - vLLM's finish_reason "stop" comes with `stop_reason`: null for EOS, the stop string
 *   otherwise; servers without stop_reason give plain "stop".
 * - usage arrives in a last chunk with empty `choices` when stream_options.include_usage is
 *   set (vLLM, OpenAI, neox serve); without it we count tokens ourselves.
 * - errors: HTTP status + JSON body, or an in-stream `data: {"error": …}` event.
 * - n > 1: llama.cpp's server refuses it (500 "Only one completion choice is allowed"); the
 *   choices then are parallel single requests (parallel-choices.ts), from then on for that server.
 * - chat: rendered by the server or here, per the remoteChatTemplate setting (chat-route.ts).
 */
import { redactUrl } from '../redact';
import type { ChatRequest, CompletionBackend, CompletionRequest, CompletionResult, DecodingOptions, EmbedInput, EmbedOptions, FinishReason, ModelInfo, TextChunk } from '../types';
import { NeoxError } from '../types';
import { ChatFallback } from './chat-fallback';
import { HttpClient, type CallOptions } from './http';
import { embedRemote } from './openai-embed';
import { CancelledError } from './http-errors';
import { parseEventJson } from './http-sse';
import { ResultBuilder } from './result';
import { parallelChoices } from './parallel-choices';
import { chatRouteFromProps, type ChatRoute } from './chat-route';
import { endpoint, type ResolvedRemoteSettings } from './settings';
import { TokenCounter } from './token-count';
import { trustedCertificates } from './tls';

interface ModelsList {
  data?: { id: string; max_model_len?: number; context_length?: number; meta?: { n_ctx_train?: number } }[];
}

interface WireChoice {
  index?: number;
  text?: string;
  message?: { content?: string | null };
  delta?: { content?: string | null };
  finish_reason?: string | null;
  stop_reason?: string | number | null;
}

interface WireChunk {
  choices?: WireChoice[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: unknown;
  object?: string;
  message?: string;
}

/** GET /props answers at once where it exists (llama.cpp answers it beside running generations). */
const PROPS_TIMEOUT_MS = 5000;

export class OpenAIBackend implements CompletionBackend {
  readonly http: HttpClient;
  private readonly counter: TokenCounter;
  private loading?: Promise<ModelInfo>;
  private info?: ModelInfo;
  private contextSource = 'the contextLength setting';
  private readonly chatFallback = new ChatFallback();
  /** Set once this server refused n > 1: n choices are n single requests from then on. */
  private singleChoiceOnly = false;
  /** Where chats are rendered, decided once (chat-route.ts). */
  private chatRoute?: Promise<ChatRoute>;

  /** `templateFallback: false` for TGI's chat delegate: TGI falls back to its own native route. */
  constructor(
    private readonly s: ResolvedRemoteSettings,
    private readonly opts: { templateFallback?: boolean } = {},
  ) {
    this.http = new HttpClient({ ...s, ca: () => trustedCertificates(s.caFile) });
    this.counter = new TokenCounter(s.tokenizerPath);
  }

  load(): Promise<ModelInfo> {
    // A failed load is not cached: the server may simply not be up yet.
    this.loading ??= this.fetchModel().catch((e) => {
      this.loading = undefined;
      throw e;
    });
    return this.loading;
  }

  /** Use known model facts instead of /v1/models (TGI's chat route: TGI describes its model in /info). */
  useInfo(info: ModelInfo): void {
    this.info = info;
    this.loading = Promise.resolve(info);
  }

  private async fetchModel(opts?: CallOptions): Promise<ModelInfo> {
    const url = endpoint(this.s.baseUrl, 'v1/models');
    let list: ModelsList;
    try {
      list = await this.http.json<ModelsList>('GET', url, undefined, undefined, opts);
    } catch (e) {
      // Some OpenAI-compatible servers (older TGI /v1 routes) have no model list: trust the settings.
      if (!(e instanceof NeoxError && e.code === 'http_404')) throw e;
      this.contextSource = 'the contextLength setting (the server has no /v1/models)';
      return {
        id: this.s.model ?? 'default',
        backend: 'openai',
        contextLength: this.s.contextLength,
        serializesGenerations: false,
        canEmbed: true,
        description: `${this.s.model ?? 'default model'} at ${this.s.baseUrl.origin} (OpenAI API, no /v1/models)`,
      };
    }
    const models = Array.isArray(list?.data) ? list.data : undefined;
    if (!models) throw new NeoxError(`${redactUrl(url)} did not answer a model list ({"data": [...]})`, 'bad_response');
    const m = this.s.model ? models.find((x) => x.id === this.s.model) : models[0];
    if (!m) {
      const names = models.map((x) => x.id).join(', ') || 'none';
      throw new NeoxError(
        this.s.model
          ? `Model "${this.s.model}" is not served by ${this.s.baseUrl.origin} (it serves: ${names}); fix neoxComplete.remoteModel`
          : `${redactUrl(url)} lists no model`,
        'model_not_found',
      );
    }
    const ctx = m.max_model_len ?? m.context_length ?? m.meta?.n_ctx_train;
    if (ctx) this.contextSource = `/v1/models ${m.max_model_len ? 'max_model_len' : 'context length'}`;
    this.info = {
      id: m.id,
      backend: 'openai',
      contextLength: ctx ?? this.s.contextLength,
      serializesGenerations: false,
      canEmbed: true,
      description: `${m.id} at ${this.s.baseUrl.origin} (OpenAI API)`,
    };
    return this.info;
  }

  async complete(req: CompletionRequest, onChunk?: (c: TextChunk) => void): Promise<CompletionResult> {
    const info = await this.load();
    const promptTokens = this.counter.count(req.prompt);
    const body = { model: info.id, prompt: req.prompt, ...this.decoding(req, promptTokens, info) };
    return this.run('v1/completions', body, req, promptTokens, onChunk);
  }

  async chat(req: ChatRequest, onChunk?: (c: TextChunk) => void): Promise<CompletionResult> {
    const info = await this.load();
    const viaServer = () => {
      // Template overhead is a few tokens per message; 8 keeps the budget on the safe side.
      const promptTokens = req.messages.reduce((n, m) => n + this.counter.count(m.content) + 8, 0);
      const body = { model: info.id, messages: req.messages, ...this.decoding(req, promptTokens, info) };
      return this.run('v1/chat/completions', body, req, promptTokens, onChunk);
    };
    if (this.opts.templateFallback === false) return viaServer();
    if ((await this.routeChats()) === 'local') this.chatFallback.active = true;
    return this.chatFallback.run(
      req,
      onChunk,
      viaServer,
      (r, cb) => this.complete(r, cb),
      // The model's format is recognised from its id (/v1/models), as a local checkpoint's from its name.
      info.id,
    );
  }

  /** The server's /v1/embeddings; a server that serves none answers with an error naming its URL. */
  async embed(inputs: EmbedInput[], opts?: EmbedOptions): Promise<number[][]> {
    const info = await this.load();
    return embedRemote(this.http, endpoint(this.s.baseUrl, 'v1/embeddings'), info.id, inputs, opts);
  }

  /** 'server' or 'local' for this server's chats: the setting, or for 'auto' what GET /props reports (llama.cpp). */
  private routeChats(): Promise<ChatRoute> {
    const setting = this.s.chatTemplate;
    if (setting !== 'auto') return Promise.resolve(setting);
    this.chatRoute ??= this.http.json<unknown>('GET', endpoint(this.s.baseUrl, 'props'), undefined, undefined, { retries: 0, timeoutMs: PROPS_TIMEOUT_MS }).then(
      (props) => chatRouteFromProps(props),
      (e: unknown) => {
        // No /props (vLLM, TGI, neox serve: their chat route refuses a model without a template, and
        // ChatFallback then renders here). A server that did not answer is asked again next time.
        if (!(e instanceof NeoxError && (e.code.startsWith('http_') || e.code === 'bad_response'))) this.chatRoute = undefined;
        return 'server' as const;
      },
    );
    return this.chatRoute;
  }

  async countTokens(text: string): Promise<number> {
    return this.counter.count(text);
  }

  async health(): Promise<{ ok: boolean; message?: string }> {
    try {
      // Quick and unretried: the status bar wants the truth now, not after backoff.
      const info = await this.fetchModel({ retries: 0, timeoutMs: this.s.connectTimeoutMs + 5000 });
      this.loading = Promise.resolve(info);
      return { ok: true, message: info.description };
    } catch (e) {
      return { ok: false, message: (e as Error).message };
    }
  }

  async dispose(): Promise<void> {
    this.http.dispose();
  }

  /** Request fields shared by completions and chat; the prompt budget is enforced here. */
  private decoding(o: DecodingOptions, promptTokens: number, info: ModelInfo): Record<string, unknown> {
    if ((o.numBeams ?? 1) > 1) {
      throw new NeoxError(`Beam search is not available through the OpenAI API at ${this.s.baseUrl.origin}: set numBeams to 1`, 'unsupported');
    }
    let maxTokens = o.maxTokens;
    if (this.counter.exact) {
      const room = info.contextLength - promptTokens;
      if (room < 1) {
        throw new NeoxError(
          `Prompt of ${promptTokens} tokens does not fit ${info.id} at ${this.s.baseUrl.origin}: its context is ${info.contextLength} tokens (from ${this.contextSource})`,
          'prompt_too_long',
        );
      }
      maxTokens = Math.min(maxTokens, room);
    }
    const body: Record<string, unknown> = { max_tokens: maxTokens, temperature: o.temperature ?? 0 };
    if (o.topP !== undefined && o.topP < 1) body.top_p = o.topP;
    // top_k and repetition_penalty are extensions (vLLM, llama.cpp, neox serve): sent only when asked for.
    if (o.topK) body.top_k = o.topK;
    if (o.repetitionPenalty !== undefined && o.repetitionPenalty !== 1) body.repetition_penalty = o.repetitionPenalty;
    if (o.stop?.length) body.stop = o.stop;
    if ((o.n ?? 1) > 1) body.n = o.n;
    if (o.seed !== undefined) body.seed = o.seed;
    return body;
  }

  /** One call of `path`; n choices the server refuses to give at once come from n single calls. */
  private async run(
    path: string,
    body: Record<string, unknown>,
    req: { signal?: AbortSignal; n?: number; seed?: number },
    promptTokens: number,
    onChunk?: (c: TextChunk) => void,
  ): Promise<CompletionResult> {
    const n = req.n ?? 1;
    const singles = () => {
      const { n: _n, seed: _seed, ...one } = body;
      return parallelChoices(n, req, onChunk, (c) =>
        this.runOnce(path, c.seed === undefined ? one : { ...one, seed: c.seed }, { signal: c.signal }, promptTokens, c.onChunk),
      );
    };
    if (n > 1 && this.singleChoiceOnly) return singles();
    try {
      return await this.runOnce(path, body, req, promptTokens, onChunk);
    } catch (e) {
      if (n === 1 || !refusesChoices(e)) throw e;
      this.singleChoiceOnly = true;
      return singles();
    }
  }

  private async runOnce(
    path: string,
    body: Record<string, unknown>,
    req: { signal?: AbortSignal; n?: number },
    promptTokens: number,
    onChunk?: (c: TextChunk) => void,
  ): Promise<CompletionResult> {
    const url = endpoint(this.s.baseUrl, path);
    const out = new ResultBuilder(req.n ?? 1, onChunk);
    const usage = () => ({
      promptTokens,
      completionTokens: Array.from({ length: out.n }, (_, i) => this.counter.count(out.text(i))).reduce((a, b) => a + b, 0),
    });
    try {
      if (onChunk) {
        const streamBody = { ...body, stream: true, stream_options: { include_usage: true } };
        const { ended } = await this.http.sse(url, streamBody, req.signal, (data) => {
          if (data.trim() === '[DONE]') return true;
          this.applyChunk(parseChunk(data, url), out, 'delta');
          return false;
        });
        if (!ended && !out.complete) {
          throw new NeoxError(`Stream from ${redactUrl(url)} ended before "data: [DONE]" (the answer is incomplete)`, 'stream_cut');
        }
      } else {
        const answer = await this.http.json<WireChunk>('POST', url, body, req.signal);
        if (!Array.isArray(answer?.choices)) throw new NeoxError(`${redactUrl(url)} answered without "choices": ${JSON.stringify(answer).slice(0, 200)}`, 'bad_response');
        this.applyChunk(answer, out, 'message');
      }
      return out.build(usage);
    } catch (e) {
      if (e instanceof CancelledError) return out.build(usage, true);
      throw e;
    }
  }

  private applyChunk(chunk: WireChunk, out: ResultBuilder, field: 'delta' | 'message'): void {
    for (const c of chunk.choices ?? []) {
      const index = c.index ?? 0;
      out.append(index, c.text ?? c[field]?.content ?? '');
      if (c.finish_reason) out.finish(index, finishReason(c));
    }
    if (chunk.usage) {
      out.usage = { promptTokens: chunk.usage.prompt_tokens ?? 0, completionTokens: chunk.usage.completion_tokens ?? 0 };
    }
  }
}

/** A server's refusal of n > 1 (llama.cpp: 500 "Only one completion choice is allowed"). */
function refusesChoices(e: unknown): boolean {
  if (!(e instanceof NeoxError) || !/^http_(400|422|500|501)$/.test(e.code)) return false;
  return /only one (completion )?choice|\bn\b\W{0,3}(must be 1|is not supported|not supported)/i.test(e.message);
}

function parseChunk(data: string, url: URL): WireChunk {
  const j = parseEventJson<WireChunk>(data, url);
  if (j.error !== undefined || j.object === 'error') {
    const e = j.error as { message?: string } | string | undefined;
    const msg = typeof e === 'string' ? e : (e?.message ?? j.message ?? JSON.stringify(j));
    throw new NeoxError(`${redactUrl(url)} reported an error mid-stream: ${msg}`, 'server_error');
  }
  return j;
}

function finishReason(c: WireChoice): FinishReason {
  switch (c.finish_reason) {
    case 'length':
      return 'length';
    case 'stop':
      // vLLM (and neox serve) say which stop: null = end-of-sequence token.
      return c.stop_reason === null ? 'eos' : 'stop';
    case 'eos':
    case 'eos_token':
      return 'eos';
    default:
      return 'stop';
  }
}
