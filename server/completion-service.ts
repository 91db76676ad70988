/**
 * Inline completions end to end: typed-through reuse, multi-line decision, prompt, LRU cache,
 * debounce, the newest request aborting older ones between tokens, early stop once the block is
 * complete, post-processing, several candidates. Whether generations run one at a time is the
 * backend's business (ModelInfo.serializesGenerations): this service never queues them.
 */
import { randomUUID } from 'node:crypto';
import type { CompletionBackend, FinishReason, ModelInfo } from '../engine/types';
import { PromptBuilder, type RelatedCode } from './context/prompt';
import { SnippetRing } from './context/snippet-ring';
import { inlineContext, inlineSuggestion, isComplete, trailingBlanks, untrail, type InlineContext } from './postprocess/inline';
import { AdaptiveDebounce, sleep } from './scheduler/debounce';
import { Activity } from './scheduler/activity';
import { LruCache } from './scheduler/lru';
import { TypedThrough } from './scheduler/typed-through';
import type { Statistics } from './stats';

export { isComplete } from './postprocess/inline';

export interface CompletionSettings {
  maxTokens: number;
  temperature: number;
  contextBudget: number;
  candidates: number;
  maxLines: number;
  crossFileContext: boolean;
  debounceMs: number | 'auto';
}

export interface InlineRequest {
  uri: string;
  path: string;
  languageId: string;
  text: string;
  offset: number;
  /** Explicitly invoked (no debounce, several candidates). */
  invoked: boolean;
}

export type AnswerSource = 'generated' | 'cache' | 'typedThrough' | 'cancelled';

export interface InlineAnswer {
  completionId: string;
  texts: string[];
  source: AnswerSource;
  latencyMs: number;
  multiline?: boolean;
  promptTokens?: number;
  promptTokensReused?: number;
  /** The backend's finish reason per candidate, when a generation ran (also for a cancelled answer). */
  finishReasons?: FinishReason[];
}

export interface CompletionDeps {
  ready(): Promise<{ backend: CompletionBackend; info: ModelInfo }>;
  countTokens(text: string): Promise<number>;
  settings(): CompletionSettings;
  stats: Pick<Statistics, 'request'>;
  /** Counts the generations this service runs (shared with the streaming requests for the status). */
  activity?: Activity;
  /**
   * Called when an automatic request starts its debounce wait of `delayMs` (a newer request or
   * an abort ends the wait early). Lets tests act while a request is provably waiting.
   */
  onDebounce?(delayMs: number): void;
  /** A line for the log (the server's console.info goes to the editor's output channel, which is the default). */
  log?(message: string): void;
  /** Related code from other files (the workspace index), quoted in the prompt beside the open files' snippets. */
  related?: RelatedCode;
}

export class CompletionService {
  private readonly ring = new SnippetRing(48, 24, (m) => (this.deps.log ?? console.info)(m));
  private readonly debounce = new AdaptiveDebounce();
  private readonly cache = new LruCache<string, string[]>(64);
  private readonly typedThrough = new TypedThrough();
  private readonly prompts: PromptBuilder;
  private readonly activity: Activity;
  private generating = 0;
  private latest: AbortController | undefined;
  private lastAnswer: InlineAnswer | undefined;

  constructor(private readonly deps: CompletionDeps) {
    this.prompts = new PromptBuilder((t) => deps.countTokens(t), this.ring, deps.related);
    this.activity = deps.activity ?? new Activity();
  }

  /** Inline generations in flight: 0 once everything settled. */
  get inFlight(): number {
    return this.generating;
  }

  /** How the last inline request was answered (diagnostics and benchmarks). */
  get last(): InlineAnswer | undefined {
    return this.lastAnswer;
  }

  setDebounce(setting: number | 'auto'): void {
    this.debounce.setting = setting;
  }

  /** Settings or backend changed: cached completions came from another configuration. */
  invalidate(): void {
    this.cache.clear();
  }

  /** A newly opened document feeds the cross-file snippets. */
  openDocument(uri: string, path: string, text: string): void {
    this.ring.addDocument(uri, path, text);
  }

  forgetDocument(uri: string): void {
    this.ring.removeDocument(uri);
    this.prompts.forget(uri);
    this.typedThrough.forget(uri);
  }

  /** Abort whatever inline request is in progress (a newer keystroke makes it outdated). */
  cancelOutdated(): void {
    this.latest?.abort();
  }

  async complete(req: InlineRequest, signal?: AbortSignal): Promise<InlineAnswer> {
    const answer = await this.answer(req, signal);
    this.lastAnswer = answer;
    return answer;
  }

  private async answer(req: InlineRequest, signal?: AbortSignal): Promise<InlineAnswer> {
    const t0 = performance.now();
    const completionId = randomUUID();
    const elapsed = () => performance.now() - t0;
    // A newer request supersedes every older one: abort it between two tokens.
    this.latest?.abort();
    const ctl = new AbortController();
    this.latest = ctl;
    const onOuterAbort = () => ctl.abort();
    signal?.addEventListener('abort', onOuterAbort, { once: true });
    if (signal?.aborted) ctl.abort();
    const cancelled = (): InlineAnswer => ({ completionId, texts: [], source: 'cancelled', latencyMs: elapsed() });
    try {
      const s = this.deps.settings();
      const prefix = req.text.slice(0, req.offset);
      const suffix = req.text.slice(req.offset);
      this.ring.addAround(req.uri, req.path, req.text, lineCount(prefix) - 1);

      const hit = this.typedThrough.match(req.uri, prefix, suffix);
      if (hit) {
        const latencyMs = elapsed();
        this.deps.stats.request('typedThrough', latencyMs);
        return { completionId: hit.source.completionId, texts: hit.texts, source: 'typedThrough', latencyMs };
      }

      // Post-processing looks at most ~30K characters around the cursor: hand it only those (a 5 MB line stays cheap).
      const near = around(req.text, req.offset);
      const site = await inlineContext(near.text, near.offset, req.languageId, s.maxLines);
      const multiline = site.multiline;
      const { backend, info } = await this.deps.ready();
      if (ctl.signal.aborted) return cancelled();
      const maxTokens = Math.max(1, Math.min(s.maxTokens, info.contextLength - 16));
      const budget = Math.max(32, Math.min(s.contextBudget, info.contextLength - maxTokens - 8));
      // With the backend's tokenizer the prompt is encoded once, here, and the engine takes the ids.
      const tokenize = backend.tokenize?.bind(backend);
      const built = await this.prompts.build({ ...req, budget, crossFile: s.crossFileContext, tokenize });
      // Generate from before the prompt's trailing spaces (see trailingBlanks).
      const trailing = trailingBlanks(built.prompt);
      const prompt = built.prompt.slice(0, built.prompt.length - trailing.length);
      const n = req.invoked ? Math.max(1, s.candidates) : 1;
      // Sampling is what makes several candidates differ.
      const temperature = n > 1 ? Math.max(s.temperature, 0.6) : s.temperature;
      const ppctx: InlineContext = { ...site, trailing };
      const finish = (raw: string[], source: AnswerSource, extra: Partial<InlineAnswer> = {}): InlineAnswer => {
        const texts = [...new Set(raw.map((r) => inlineSuggestion(r, ppctx)).filter((t): t is string => t !== undefined))];
        const latencyMs = elapsed();
        this.deps.stats.request(source === 'cache' ? 'cache' : 'generated', latencyMs);
        if (texts.length) this.typedThrough.remember({ uri: req.uri, prefix, suffix, texts, completionId });
        else this.typedThrough.forget(req.uri);
        return { completionId, texts, source, latencyMs, multiline, promptTokens: built.tokens, ...extra };
      };

      const key = JSON.stringify([built.prompt, multiline, maxTokens, temperature, n, s.maxLines]);
      const cached = this.cache.get(key);
      if (cached) return finish(cached, 'cache');

      if (!req.invoked) {
        const delayMs = this.debounce.delayMs;
        const waited = sleep(delayMs, ctl.signal);
        this.deps.onDebounce?.(delayMs);
        if (!(await waited)) return cancelled();
      }

      // The generation's own signal: aborted by an outdated request, or by us once every
      // candidate is complete (early stop: the rest would be cut by post-processing anyway).
      const gen = new AbortController();
      const onAbort = () => gen.abort();
      ctl.signal.addEventListener('abort', onAbort, { once: true });
      const acc = new Array<string>(n).fill('');
      const done = new Array<boolean>(n).fill(false);
      let earlyStop = false;
      const onChunk = (c: { index: number; text: string }) => {
        if (c.index >= n || done[c.index]) return;
        acc[c.index] += c.text;
        if (c.text.includes('\n') && isComplete(untrail(acc[c.index]!, ppctx), ppctx)) {
          done[c.index] = true;
          if (done.every(Boolean)) {
            earlyStop = true;
            gen.abort();
          }
        }
      };
      const run = async () => {
        this.generating++;
        try {
          return await this.activity.run(() =>
            backend.complete({ prompt, promptIds: built.ids, maxTokens, temperature, n, stop: multiline ? ['\n\n\n'] : ['\n'], signal: gen.signal }, onChunk),
          );
        } finally {
          this.generating--;
        }
      };
      try {
        if (ctl.signal.aborted) return cancelled();
        const result = await run();
        const finishReasons = [...result.choices].sort((a, b) => a.index - b.index).map((c) => c.finishReason);
        if (ctl.signal.aborted && !earlyStop) return { ...cancelled(), finishReasons };
        const raw = result.choices
          .sort((a, b) => a.index - b.index)
          .map((c, i) => {
            if (earlyStop) return acc[i] ?? c.text;
            // Out of tokens mid-line in a multi-line suggestion: the last line is unfinished.
            if (c.finishReason === 'length' && multiline && c.text.includes('\n')) return c.text.slice(0, c.text.lastIndexOf('\n'));
            return c.text;
          });
        this.cache.set(key, raw);
        const answer = finish(raw, 'generated', { promptTokensReused: result.timings?.promptTokensReused, finishReasons });
        this.debounce.observe(answer.latencyMs);
        return answer;
      } finally {
        ctl.signal.removeEventListener('abort', onAbort);
      }
    } finally {
      signal?.removeEventListener('abort', onOuterAbort);
      if (this.latest === ctl) this.latest = undefined;
    }
  }
}

/** Characters around the cursor that post-processing may look at (its syntax window is 20K before, 2K after). */
const NEAR_BEFORE = 32_000;
const NEAR_AFTER = 8_000;

/** The text around `offset` (and the offset in it), where the document is bigger than that. */
function around(text: string, offset: number): { text: string; offset: number } {
  if (text.length <= NEAR_BEFORE + NEAR_AFTER) return { text, offset };
  const start = Math.max(0, offset - NEAR_BEFORE);
  return { text: text.slice(start, offset + NEAR_AFTER), offset: offset - start };
}

function lineCount(text: string): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
