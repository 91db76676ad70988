/**
 * Hugging Face TGI native adapter: POST /generate_stream (SSE) and /generate, GET /info for
 * the context length, GET /health for the status bar. Chat goes to TGI's OpenAI-compatible
 * /v1/chat/completions (TGI >= 1.4), which applies the model's chat template; for a model
 * without one (GPT-NeoX-20B) we render our default template and generate natively.
 *
 * Wire format (TGI docs, "Consuming TGI" / OpenAPI spec):
 *   data:{"index":1,"token":{"id":1834,"text":" def","logprob":-0.3,"special":false},"generated_text":null,"details":null}
 *   … last event: "generated_text":"…","details":{"finish_reason":"length"|"eos_token"|"stop_sequence","generated_tokens":16,"seed":null,"input_length":7}
 *   errors: HTTP 4xx/5xx {"error":"…","error_type":"validation"|"overloaded"|…}, or such an object as an event.
 * TGI keeps the stop sequence in the text; our contract drops it (StopFilter).
 * TGI has no `n`: n choices are n parallel requests (parallel-choices.ts; seeded seed, seed+1, … when a seed is given).
 */
import { redactUrl } from '../redact';
import type { ChatRequest, CompletionBackend, CompletionRequest, CompletionResult, FinishReason, ModelInfo, TextChunk } from '../types';
import { NeoxError } from '../types';
import { ChatFallback } from './chat-fallback';
import { HttpClient } from './http';
import { CancelledError } from './http-errors';
import { parseEventJson } from './http-sse';
import { OpenAIBackend } from './openai';
import { parallelChoices, type SingleChoice } from './parallel-choices';
import { ResultBuilder } from './result';
import { endpoint, type ResolvedRemoteSettings } from './settings';
import { StopFilter } from './stop-filter';
import { TokenCounter } from './token-count';
import { trustedCertificates } from './tls';

interface TgiInfo {
  model_id?: string;
  max_input_tokens?: number;
  /** TGI < 2.1 name of max_input_tokens */
  max_input_length?: number;
  max_total_tokens?: number;
  version?: string;
}

interface TgiEvent {
  index?: number;
  token?: { id: number; text: string; special?: boolean };
  generated_text?: string | null;
  details?: { finish_reason?: string; generated_tokens?: number; input_length?: number } | null;
  error?: string;
  error_type?: string;
}

export class TgiBackend implements CompletionBackend {
  readonly http: HttpClient;
  private readonly counter: TokenCounter;
  private readonly chatBackend: OpenAIBackend;
  private loading?: Promise<ModelInfo>;
  private maxInput?: number;
  private readonly chatFallback = new ChatFallback();

  constructor(private readonly s: ResolvedRemoteSettings) {
    this.http = new HttpClient({ ...s, ca: () => trustedCertificates(s.caFile) });
    this.counter = new TokenCounter(s.tokenizerPath);
    this.chatBackend = new OpenAIBackend({ ...s, kind: 'openai' }, { templateFallback: false });
    // TGI reports no chat template; 'auto' uses its chat route, which refuses a model without one.
    if (s.chatTemplate === 'local') this.chatFallback.active = true;
  }

  load(): Promise<ModelInfo> {
    this.loading ??= this.fetchInfo().catch((e) => {
      this.loading = undefined;
      throw e;
    });
    return this.loading;
  }

  private async fetchInfo(): Promise<ModelInfo> {
    const url = endpoint(this.s.baseUrl, 'info');
    const info = await this.http.json<TgiInfo>('GET', url);
    if (!info || typeof info !== 'object' || !info.model_id) {
      throw new NeoxError(`${redactUrl(url)} is not a TGI /info answer (no model_id): is this a TGI server? Otherwise choose the "openai" API kind`, 'bad_response');
    }
    this.maxInput = info.max_input_tokens ?? info.max_input_length;
    const m: ModelInfo = {
      id: info.model_id,
      backend: 'tgi',
      contextLength: info.max_total_tokens ?? this.s.contextLength,
      serializesGenerations: false,
      canEmbed: false,
      description: `${info.model_id} at ${this.s.baseUrl.origin} (TGI ${info.version ?? ''})`.replace(' )', ')'),
    };
    // TGI's OpenAI route takes any model name ("tgi" by convention).
    this.chatBackend.useInfo({ ...m, backend: 'openai' });
    return m;
  }

  async complete(req: CompletionRequest, onChunk?: (c: TextChunk) => void): Promise<CompletionResult> {
    const info = await this.load();
    if ((req.numBeams ?? 1) > 1) throw new NeoxError(`Beam search is not available through TGI at ${this.s.baseUrl.origin}: set numBeams to 1`, 'unsupported');
    const promptTokens = this.counter.count(req.prompt);
    let maxNew = req.maxTokens;
    if (this.counter.exact) {
      const inputLimit = Math.min(this.maxInput ?? Infinity, info.contextLength - 1);
      if (promptTokens > inputLimit) {
        throw new NeoxError(
          `Prompt of ${promptTokens} tokens does not fit ${info.id} at ${this.s.baseUrl.origin}: TGI accepts ${inputLimit} input tokens (/info max_input_tokens)`,
          'prompt_too_long',
        );
      }
      maxNew = Math.max(1, Math.min(maxNew, info.contextLength - promptTokens));
    }
    const single = (c: SingleChoice) => this.completeOne(req, maxNew, promptTokens, c);
    const n = req.n ?? 1;
    // TGI has no `n`: n choices are n parallel requests.
    if (n > 1) return parallelChoices(n, req, onChunk, single);
    return single({ seed: req.seed, signal: req.signal, onChunk });
  }

  /** One choice: one TGI request. */
  private async completeOne(req: CompletionRequest, maxNew: number, promptTokens: number, c: SingleChoice): Promise<CompletionResult> {
    const out = new ResultBuilder(1, c.onChunk);
    let tokens: number | undefined;
    try {
      tokens = await this.generate({ ...req, signal: c.signal }, maxNew, c.seed, out, !!c.onChunk);
    } catch (e) {
      if (!(e instanceof CancelledError)) throw e;
      return out.build(() => ({ promptTokens, completionTokens: 0 }), true);
    }
    if (tokens !== undefined) out.usage = { promptTokens, completionTokens: tokens };
    return out.build(() => ({ promptTokens, completionTokens: this.counter.count(out.text(0)) }));
  }

  /** One TGI request into `out`'s only choice; returns the generated-token count when TGI reports it. */
  private async generate(req: CompletionRequest, maxNew: number, seed: number | undefined, out: ResultBuilder, stream: boolean): Promise<number | undefined> {
    const sampling = (req.temperature ?? 0) > 0;
    // TGI rejects temperature <= 0 and top_p outside (0, 1): send only meaningful values.
    const parameters: Record<string, unknown> = { max_new_tokens: maxNew, details: true, do_sample: sampling };
    if (sampling) {
      parameters.temperature = req.temperature;
      if (req.topK) parameters.top_k = req.topK;
      if (req.topP !== undefined && req.topP > 0 && req.topP < 1) parameters.top_p = req.topP;
      if (seed !== undefined) parameters.seed = seed;
    }
    if (req.repetitionPenalty !== undefined && req.repetitionPenalty !== 1) parameters.repetition_penalty = req.repetitionPenalty;
    if (req.stop?.length) parameters.stop = req.stop;
    const body = { inputs: req.prompt, parameters };
    const filter = new StopFilter(req.stop ?? []);
    let tokens: number | undefined;
    const finish = (ev: TgiEvent) => {
      out.append(0, filter.flush());
      out.finish(0, filter.stopped ? 'stop' : tgiFinish(ev.details?.finish_reason));
      tokens = ev.details?.generated_tokens;
    };

    if (stream) {
      const url = endpoint(this.s.baseUrl, 'generate_stream');
      const { ended } = await this.http.sse(url, body, req.signal, (data) => {
        const ev = parseEvent(data, url);
        if (ev.token && !ev.token.special) out.append(0, filter.push(ev.token.text));
        if (ev.details || (ev.generated_text !== null && ev.generated_text !== undefined)) {
          finish(ev);
          return true;
        }
        return false;
      });
      if (!ended) throw new NeoxError(`Stream from ${redactUrl(url)} ended before its final event (the answer is incomplete)`, 'stream_cut');
    } else {
      const url = endpoint(this.s.baseUrl, 'generate');
      const ev = await this.http.json<TgiEvent | TgiEvent[]>('POST', url, body, req.signal);
      const one = Array.isArray(ev) ? ev[0] : ev;
      if (typeof one?.generated_text !== 'string') throw new NeoxError(`${redactUrl(url)} answered without generated_text`, 'bad_response');
      out.append(0, filter.push(one.generated_text));
      finish(one);
    }
    return tokens;
  }

  async chat(req: ChatRequest, onChunk?: (c: TextChunk) => void): Promise<CompletionResult> {
    const info = await this.load();
    return this.chatFallback.run(
      req,
      onChunk,
      () => this.chatBackend.chat(req, onChunk),
      (r, cb) => this.complete(r, cb),
      // The model's format is recognised from its id (/info model_id).
      info.id,
    );
  }

  async countTokens(text: string): Promise<number> {
    return this.counter.count(text);
  }

  async health(): Promise<{ ok: boolean; message?: string }> {
    // TGI's /health runs a tiny generation: 200 means the shards can actually answer.
    const url = endpoint(this.s.baseUrl, 'health');
    try {
      await this.http.text('GET', url, undefined, undefined, { retries: 0, timeoutMs: this.s.connectTimeoutMs + 5000 });
      const info = await this.load();
      return { ok: true, message: info.description };
    } catch (e) {
      return { ok: false, message: (e as Error).message };
    }
  }

  async dispose(): Promise<void> {
    this.http.dispose();
    await this.chatBackend.dispose();
  }
}

function parseEvent(data: string, url: URL): TgiEvent {
  const ev = parseEventJson<TgiEvent>(data, url);
  if (ev.error) throw new NeoxError(`${redactUrl(url)} reported an error mid-stream: ${ev.error}${ev.error_type ? ` (${ev.error_type})` : ''}`, 'server_error');
  return ev;
}

function tgiFinish(r: string | undefined): FinishReason {
  if (r === 'eos_token') return 'eos';
  if (r === 'stop_sequence') return 'stop';
  return 'length';
}
