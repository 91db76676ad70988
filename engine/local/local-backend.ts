/**
 * The local engine as a CompletionBackend: tokenizer + ModelRunner (ONNX in a worker thread)
 * + decoding. One generation at a time runs on the runner (requests queue), and each
 * request reuses the cached keys/values of the longest prefix it shares with the last one.
 */
import { join } from 'node:path';
import {
  NeoxError,
  type ChatRequest,
  type CompletionBackend,
  type CompletionRequest,
  type CompletionResult,
  type DecodingOptions,
  type EmbedInput,
  type EmbedOptions,
  type LoadProgress,
  type ModelInfo,
  type TextChunk,
} from '../types';
import type { LoadOptions, ModelRunner, RunnerInfo } from './runner';
import { loadTokenizer, type NeoxTokenizer } from './tokenizer';
import { readConfig } from './config';
import { validateDecodingOptions } from './decoding/options';
import { scoreTexts, type TextNll } from './decoding/perplexity';
import { SerialQueue } from './serial-queue';
import { completeOne, completePrompts, type LoadedModel } from './completions';
import { ContinuousBatch } from './continuous-batch';
import { cancelledResult } from './completion-result';
import { chatTemplateFor, localCheckpointFacts, type ChatTemplate } from '../chat-template';
import { embedAll, embedRows, resolveEmbedOptions } from './embeddings';

export type RunnerLoader = (opts: LoadOptions, onProgress?: (p: LoadProgress) => void) => Promise<ModelRunner>;

export interface LocalBackendOptions extends LoadOptions {
  /** How to build the runner; defaults to the ONNX engine (engine/local/load.ts). Tests inject others. */
  loadRunner?: RunnerLoader;
  /**
   * Above 1, completions run as one continuous batch of up to this many requests: each joins at the
   * next step and leaves when done (engine/local/continuous-batch.ts). 1 (default): one at a time,
   * as an editor needs.
   */
  maxBatch?: number;
  /**
   * Continuous batching: prompt positions joining rows may take per step while others decode. Default
   * 256: prefill runs near full speed, and a step stalls the decoding rows by about 20 ms on the
   * default model (64 measured about 10% less total throughput for the same short-request latency).
   */
  stepTokens?: number;
  /**
   * Continuous batching: decoding rows per step while a short request runs beside long ones, which
   * take turns for what short rows leave (engine/local/batch-schedule.ts). Default 2: a short request then pays for about one long row per token (3 and 4 measured 10-25% slower short requests for the same throughput).
   */
  stepRows?: number;
}

export interface LocalBackend extends CompletionBackend {
  /** Several prompts in one batch (one runner row each), same decoding options for all; no beam search. */
  completeBatch(prompts: string[], opts: DecodingOptions & { signal?: AbortSignal }, onChunk?: (c: TextChunk) => void): Promise<CompletionResult>;
  /** Summed NLL of the first `maxTokens` tokens of each text (perplexity evaluation); `onText` reports progress. */
  score(texts: string[], maxTokens: number, opts?: { onText?: (index: number, r: TextNll) => void; signal?: AbortSignal }): Promise<TextNll[]>;
  tokenize(text: string): Promise<number[]>;
  /**
   * One vector per input (a text, or token ids): hidden state `layer` (default: the last, after the final layer norm)
   * pooled by mean (default) or last token, optionally L2-normalised (engine/local/embeddings.ts).
   */
  embed(inputs: EmbedInput[], opts?: EmbedOptions): Promise<number[][]>;
  /** The chat prompt, its format and the stop strings that end the model's turn. */
  renderChat(req: ChatRequest): Promise<{ prompt: string; format: string; stop: string[] }>;
  /** Available after load(). */
  readonly runnerInfo: RunnerInfo | undefined;
}

const defaultLoader: RunnerLoader = async (opts, onProgress) => (await import('./load')).loadRunner(opts, onProgress);

/** Why completeBatch cannot take these prompts with these options, if it cannot. */
function checkBatchRequest(prompts: string[], o: DecodingOptions): void {
  validateDecodingOptions(o);
  if ((o.numBeams ?? 1) > 1 || (o.n ?? 1) > 1) throw new NeoxError('completeBatch: numBeams and n must be 1 (one row per prompt)', 'bad_request');
  if (prompts.length === 0) throw new NeoxError('completeBatch: no prompts', 'bad_request');
}

/** Cheap checks first, so a wrong folder fails in milliseconds with the file at fault named; then the runner. */
async function loadModel(opts: LocalBackendOptions, onProgress?: (p: LoadProgress) => void): Promise<LoadedModel> {
  readConfig(opts.modelDir);
  onProgress?.({ stage: 'tokenizer', message: `reading ${join(opts.modelDir, 'tokenizer.json')}` });
  const tokenizer = await loadTokenizer(opts.modelDir);
  const { loadRunner, ...loadOpts } = opts;
  const runner = await (loadRunner ?? defaultLoader)(loadOpts, onProgress);
  runner.reset(1);
  onProgress?.({ stage: 'ready', message: 'model ready', fraction: 1 });
  return { runner, tokenizer };
}

export function createLocalBackend(opts: LocalBackendOptions): LocalBackend {
  let loading: Promise<ModelInfo> | undefined;
  let model: LoadedModel | undefined;
  // Until load(), countTokens reads the tokenizer alone.
  let tokenizer: NeoxTokenizer | undefined;
  /** Chat templates by requested format ('auto' included), compiled on first use. */
  let chatTemplates = new Map<string, ChatTemplate>();
  let disposed = false;
  const queue = new SerialQueue();

  const ready = async (): Promise<LoadedModel> => {
    if (disposed) throw new NeoxError('the local engine was disposed', 'disposed');
    await backend.load();
    return model!;
  };
  /** Runs `task` on the loaded model when the runner is free. */
  const onRunner = <T>(task: (m: LoadedModel) => Promise<T>): Promise<T> => queue.run(() => task(model!));

  const maxBatch = Math.max(1, Math.floor(opts.maxBatch ?? 1));
  const batch = maxBatch > 1 ? new ContinuousBatch(() => model!, queue, { maxRequests: maxBatch, stepTokens: opts.stepTokens ?? 256, stepRows: opts.stepRows ?? 2 }) : undefined;

  const backend: LocalBackend = {
    get runnerInfo() {
      return model?.runner.info;
    },

    load(onProgress) {
      loading ??= (async () => {
        chatTemplates = new Map(); // compiled on first chat()
        model = await loadModel(opts, onProgress);
        tokenizer = model.tokenizer;
        return {
          id: opts.modelDir,
          backend: 'local' as const,
          contextLength: model.runner.info.contextLength,
          serializesGenerations: true,
          canEmbed: !!model.runner.embed,
          description: `local ${opts.quant} ${opts.modelDir}`,
        };
      })();
      // A failed load can be retried (e.g. after the user fixes the folder).
      loading.catch(() => (loading = undefined));
      return loading;
    },

    async complete(req: CompletionRequest, onChunk?: (c: TextChunk) => void): Promise<CompletionResult> {
      validateDecodingOptions(req);
      await ready();
      let started = false;
      const onStart = () => (started = true);
      const queued = batch ? batch.submit(req, onChunk, onStart) : onRunner((m) => (onStart(), completeOne(m, req, onChunk)));
      // A request cancelled while it waits behind another generation is answered at once; its
      // task, when its turn comes, sees the aborted signal and returns without generating. Once
      // running, a cancelled generation answers with the text so far.
      return answerCancelledAtOnce(queued, req.signal, () => started, () => cancelledResult(req.n ?? 1, 0, performance.now()));
    },

    async completeBatch(prompts, o, onChunk) {
      checkBatchRequest(prompts, o);
      await ready();
      return onRunner((m) => completePrompts(m, prompts, o, onChunk));
    },

    async renderChat(req: ChatRequest) {
      const m = await ready();
      const key = req.format ?? 'auto';
      let t = chatTemplates.get(key);
      if (!t) chatTemplates.set(key, (t = chatTemplateFor(localCheckpointFacts(opts.modelDir, m.tokenizer.config), key)));
      return { prompt: t.render(req.messages), format: t.name, stop: t.stop };
    },

    async chat(req: ChatRequest, onChunk?: (c: TextChunk) => void): Promise<CompletionResult> {
      const { prompt, format, stop: turnStop } = await backend.renderChat(req);
      const stop = [...(req.stop ?? []), ...turnStop];
      const { messages: _m, format: _f, ...rest } = req;
      const r = await backend.complete({ ...rest, prompt, stop: stop.length ? stop : undefined }, onChunk);
      return { ...r, chatFormat: format };
    },

    async score(texts, maxTokens, o = {}) {
      await ready();
      return onRunner(async (m) => scoreTexts(m.runner, texts.map((t) => m.tokenizer.encode(t).slice(0, maxTokens)), o));
    },

    async embed(texts, o) {
      const m = await ready();
      const { runner, tokenizer: tok } = m;
      if (!runner.embed) throw new NeoxError('embed: this model runner cannot embed', 'unsupported');
      const eo = resolveEmbedOptions(o, runner.info.numLayers ?? 0);
      const rows = embedRows(texts, (t) => tok.encode(t), runner.info.contextLength, eo.truncate, runner.info.vocabSize);
      if (rows.length === 0) return [];
      // Batch by batch on the runner, so a completion waiting for it goes in between.
      const run = (batch: number[][]) => onRunner((r) => r.runner.embed!(batch, { layer: eo.layer, pooling: eo.pooling }));
      return embedAll(rows, run, eo.normalize, o?.signal);
    },

    async tokenize(text) {
      const m = await ready();
      return m.tokenizer.encode(text);
    },

    async countTokens(text) {
      tokenizer ??= await loadTokenizer(opts.modelDir);
      return tokenizer.encode(text).length;
    },

    async health() {
      if (disposed) return { ok: false, message: 'disposed' };
      if (!model) return { ok: false, message: loading ? 'loading' : 'not loaded' };
      return { ok: true, message: `local ${opts.quant}` };
    },

    async dispose() {
      if (disposed) return;
      disposed = true;
      await queue.idle();
      await model?.runner.dispose();
      model = undefined;
    },
  };
  return backend;
}

/** `queued`, or `cancelled()` as soon as `signal` aborts before `started()`, whichever comes first. */
function answerCancelledAtOnce<T>(queued: Promise<T>, signal: AbortSignal | undefined, started: () => boolean, cancelled: () => T): Promise<T> {
  if (!signal) return queued;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      if (!started()) resolve(cancelled());
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    queued.then(
      (r) => (signal.removeEventListener('abort', onAbort), resolve(r)),
      (e) => (signal.removeEventListener('abort', onAbort), reject(e)),
    );
  });
}
