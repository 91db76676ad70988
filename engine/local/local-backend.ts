/**
 * The local engine as a CompletionBackend: tokenizer + ModelRunner (ONNX in a worker thread)
 * + decoding. One generation at a time runs on the runner (requests queue), and each
 * request reuses the cached keys/values of the longest prefix it shares with the last one.
 */
import { join } from 'node:path';
import {
  NeoxError,
  type ChatRequest,
  type Choice,
  type CompletionBackend,
  type CompletionRequest,
  type CompletionResult,
  type DecodingOptions,
  type LoadProgress,
  type ModelInfo,
  type TextChunk,
} from '../types';
import type { LoadOptions, ModelRunner, RunnerInfo } from './runner';
import { loadTokenizer, type NeoxTokenizer } from './tokenizer';
import { readConfig } from './config';
import { validateDecodingOptions } from './decoding/options';
import { prefillWithReuse } from './decoding/prefix-cache';
import { generateRows, type RowSpec, type SequenceResult } from './decoding/generate';
import { RequestBatcher } from './request-batcher';
import { beamSearch } from './decoding/beam-search';
import { scoreTexts, type TextNll } from './decoding/perplexity';
import { chatTemplateFor, type ChatTemplate } from '../../snippets/chat/template';

export type RunnerLoader = (opts: LoadOptions, onProgress?: (p: LoadProgress) => void) => Promise<ModelRunner>;

export interface LocalBackendOptions extends LoadOptions {
  /** How to build the runner; defaults to the ONNX engine (engine/local/load.ts). Tests inject others. */
  loadRunner?: RunnerLoader;
  /**
   * Completions that queue for the runner are served together, up to this many rows
   * (engine/local/request-batcher.ts). 1 (default): one at a time, as an editor needs.
   */
  maxBatch?: number;
}

export interface LocalBackend extends CompletionBackend {
  /** Several prompts in one batch (one runner row each), same decoding options for all; no beam search. */
  completeBatch(prompts: string[], opts: DecodingOptions & { signal?: AbortSignal }, onChunk?: (c: TextChunk) => void): Promise<CompletionResult>;
  /** Summed NLL of the first `maxTokens` tokens of each text (perplexity evaluation); `onText` reports progress. */
  score(texts: string[], maxTokens: number, opts?: { onText?: (index: number, r: TextNll) => void; signal?: AbortSignal }): Promise<TextNll[]>;
  tokenize(text: string): Promise<number[]>;
  /** Available after load(). */
  readonly runnerInfo: RunnerInfo | undefined;
}

/** A completion waiting in the batcher. */
interface Queued {
  req: CompletionRequest;
  onChunk?: (c: TextChunk) => void;
}

const defaultLoader: RunnerLoader = async (opts, onProgress) => (await import('./load')).loadRunner(opts, onProgress);

export function createLocalBackend(opts: LocalBackendOptions): LocalBackend {
  let loading: Promise<ModelInfo> | undefined;
  let runner: ModelRunner | undefined;
  let tokenizer: NeoxTokenizer | undefined;
  let chatTemplate: ChatTemplate | undefined;
  let disposed = false;
  // Serialises everything that touches the runner's cache.
  let queue: Promise<unknown> = Promise.resolve();
  const enqueue = <T>(task: () => Promise<T>): Promise<T> => {
    const run = queue.then(task, task);
    queue = run.catch(() => undefined);
    return run;
  };

  const ready = async () => {
    if (disposed) throw new NeoxError('the local engine was disposed', 'disposed');
    await backend.load();
    return { runner: runner!, tokenizer: tokenizer! };
  };
  const eosId = () => runner?.info.eosTokenId ?? tokenizer?.eosTokenId;

  /** Prompt ids within the context window; an empty prompt starts from BOS/EOS (id of <|endoftext|>). */
  const promptIds = (text: string): number[] => {
    const ids = tokenizer!.encode(text);
    if (ids.length === 0) ids.push(eosId() ?? 0);
    const ctx = runner!.info.contextLength;
    if (ids.length >= ctx) {
      throw new NeoxError(`prompt is ${ids.length} tokens; the model's context holds ${ctx} (prompt + completion)`, 'prompt_too_long');
    }
    return ids;
  };

  const toResult = (results: SequenceResult[], promptTokens: number, t0: number, firstAt: number | undefined, reused?: number): CompletionResult => {
    const choices: Choice[] = results.map((r, index) => ({ index, text: r.text, tokenIds: r.ids, finishReason: r.finishReason }));
    return {
      choices,
      usage: { promptTokens, completionTokens: results.reduce((s, r) => s + r.ids.length, 0) },
      timings: {
        firstTokenMs: firstAt === undefined ? undefined : firstAt - t0,
        totalMs: performance.now() - t0,
        promptTokensReused: reused,
      },
    };
  };

  const cancelledResult = (n: number, promptTokens: number, t0: number): CompletionResult =>
    toResult(Array.from({ length: n }, () => ({ ids: [], text: '', finishReason: 'cancelled' as const })), promptTokens, t0, undefined, 0);

  /** One request on the runner (its turn in the queue has come): prefix reuse, then sampling or beam search. */
  const completeNow = async (req: CompletionRequest, onChunk?: (c: TextChunk) => void): Promise<CompletionResult> => {
    const t0 = performance.now();
    const ids = promptIds(req.prompt);
    const n = req.n ?? 1;
    if (req.signal?.aborted) return cancelledResult(n, ids.length, t0);
    const maxTokens = Math.min(req.maxTokens, runner!.info.contextLength - ids.length);
    const { logits, reused } = await prefillWithReuse(runner!, ids);
    const firstAt = performance.now(); // the first token is picked from these logits right away
    const eosTokenId = eosId();
    let results: SequenceResult[];
    if ((req.numBeams ?? 1) > 1) {
      results = await beamSearch(runner!, tokenizer!, logits, {
        numBeams: req.numBeams!,
        maxTokens,
        lengthPenalty: req.lengthPenalty,
        earlyStopping: req.earlyStopping,
        eosTokenId,
        numReturn: n,
        signal: req.signal,
      });
      // Beam search returns whole texts at the end; stream them as one chunk each.
      results = results.map((r) => applyStops(r, req.stop));
      if (onChunk) results.forEach((r, index) => r.text && onChunk({ index, text: r.text }));
    } else {
      if (n > 1) runner!.reorder(new Array<number>(n).fill(0));
      const rows = Array.from({ length: n }, (_, index) => ({ index, promptIds: ids }));
      results = await generateRows(runner!, tokenizer!, rows, new Array(n).fill(logits), { ...req, maxTokens, eosTokenId }, (index, text) =>
        onChunk?.({ index, text }),
      );
    }
    return toResult(results, ids.length, t0, firstAt, reused);
  };

  /** Several single-sample requests as one batch of runner rows, each with its own options and signal. */
  const completeGroup = async (group: Queued[]): Promise<(CompletionResult | Error)[]> => {
    const t0 = performance.now();
    const out: (CompletionResult | Error)[] = [];
    const live: { at: number; ids: number[] }[] = [];
    group.forEach(({ req }, at) => {
      try {
        const ids = promptIds(req.prompt);
        if (req.signal?.aborted) out[at] = cancelledResult(1, ids.length, t0);
        else live.push({ at, ids });
      } catch (e) {
        out[at] = e as Error; // this prompt alone is at fault (too long)
      }
    });
    if (live.length === 0) return out;
    const ctx = runner!.info.contextLength;
    runner!.reset(live.length);
    const logits = await runner!.forward(live.map((l) => l.ids));
    const firstAt = performance.now();
    const rows: RowSpec[] = live.map(({ at, ids }, index) => {
      const { maxTokens, stop, seed, signal, temperature, topK, topP, repetitionPenalty } = group[at]!.req;
      const own = { maxTokens: Math.min(maxTokens, ctx - ids.length), stop, seed, signal, temperature, topK, topP, repetitionPenalty };
      return { index, promptIds: ids, own };
    });
    const maxTokens = Math.max(...rows.map((r) => r.own!.maxTokens));
    const results = await generateRows(runner!, tokenizer!, rows, logits, { maxTokens, eosTokenId: eosId() }, (index, text) =>
      group[live[index]!.at]!.onChunk?.({ index: 0, text }),
    );
    live.forEach(({ at, ids }, index) => (out[at] = toResult([results[index]!], ids.length, t0, firstAt, 0)));
    return out;
  };

  const maxBatch = Math.max(1, Math.floor(opts.maxBatch ?? 1));
  const batcher =
    maxBatch > 1
      ? new RequestBatcher<Queued, CompletionResult>(maxBatch, enqueue, (q) => completeNow(q.req, q.onChunk), completeGroup)
      : undefined;

  const backend: LocalBackend = {
    get runnerInfo() {
      return runner?.info;
    },

    load(onProgress) {
      loading ??= (async () => {
        // Cheap checks first, so a wrong folder fails in milliseconds with the file at fault named.
        readConfig(opts.modelDir);
        onProgress?.({ stage: 'tokenizer', message: `reading ${join(opts.modelDir, 'tokenizer.json')}` });
        tokenizer = await loadTokenizer(opts.modelDir);
        chatTemplate = undefined; // compiled on first chat()
        const { loadRunner, ...loadOpts } = opts;
        runner = await (loadRunner ?? defaultLoader)(loadOpts, onProgress);
        runner.reset(1);
        onProgress?.({ stage: 'ready', message: 'model ready', fraction: 1 });
        return {
          id: opts.modelDir,
          backend: 'local' as const,
          contextLength: runner.info.contextLength,
          serializesGenerations: true,
          canEmbed: false,
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
      if (batcher && (req.n ?? 1) === 1 && (req.numBeams ?? 1) === 1) return batcher.submit({ req, onChunk });
      return enqueue(() => completeNow(req, onChunk));
    },

    async completeBatch(prompts, o, onChunk) {
      validateDecodingOptions(o);
      if ((o.numBeams ?? 1) > 1 || (o.n ?? 1) > 1) throw new NeoxError('completeBatch: numBeams and n must be 1 (one row per prompt)', 'bad_request');
      if (prompts.length === 0) throw new NeoxError('completeBatch: no prompts', 'bad_request');
      await ready();
      return enqueue(async () => {
        const t0 = performance.now();
        const all = prompts.map(promptIds);
        if (o.signal?.aborted) return cancelledResult(prompts.length, 0, t0);
        const longest = Math.max(...all.map((p) => p.length));
        const maxTokens = Math.min(o.maxTokens, runner!.info.contextLength - longest);
        runner!.reset(all.length);
        const logits = await runner!.forward(all);
        const firstAt = performance.now();
        const rows = all.map((promptIds, index) => ({ index, promptIds }));
        const results = await generateRows(runner!, tokenizer!, rows, logits, { ...o, maxTokens, eosTokenId: eosId() }, (index, text) =>
          onChunk?.({ index, text }),
        );
        const res = toResult(results, all.reduce((s, p) => s + p.length, 0), t0, firstAt, 0);
        return res;
      });
    },

    async chat(req: ChatRequest, onChunk?: (c: TextChunk) => void): Promise<CompletionResult> {
      await ready();
      chatTemplate ??= chatTemplateFor(tokenizer!.config, join(opts.modelDir, 'tokenizer_config.json'));
      const prompt = chatTemplate.render(req.messages);
      const stop = [...(req.stop ?? []), ...chatTemplate.stop];
      const { messages: _m, ...rest } = req;
      return backend.complete({ ...rest, prompt, stop: stop.length ? stop : undefined }, onChunk);
    },

    async score(texts, maxTokens, o = {}) {
      await ready();
      return enqueue(async () => scoreTexts(runner!, texts.map((t) => tokenizer!.encode(t).slice(0, maxTokens)), o));
    },

    async tokenize(text) {
      await ready();
      return tokenizer!.encode(text);
    },

    async countTokens(text) {
      if (!tokenizer) tokenizer = await loadTokenizer(opts.modelDir);
      return tokenizer.encode(text).length;
    },

    async health() {
      if (disposed) return { ok: false, message: 'disposed' };
      if (!runner) return { ok: false, message: loading ? 'loading' : 'not loaded' };
      return { ok: true, message: `local ${opts.quant}` };
    },

    async dispose() {
      if (disposed) return;
      disposed = true;
      await queue;
      await runner?.dispose();
      runner = undefined;
    },
  };
  return backend;
}

/** Beam search is not streamed token by token, so stop strings are applied to its finished text. */
function applyStops(r: SequenceResult, stop: string[] | undefined): SequenceResult {
  if (!stop?.length) return r;
  let cut = -1;
  for (const s of stop) {
    const at = r.text.indexOf(s);
    if (at >= 0 && (cut < 0 || at < cut)) cut = at;
  }
  return cut < 0 ? r : { ...r, text: r.text.slice(0, cut), finishReason: 'stop' };
}
