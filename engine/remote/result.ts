/**
 * Accumulates streamed or whole answers into a CompletionResult the same way for every
 * adapter, so "cancelled", timings and usage mean the same thing whatever the server.
 */
import type { Choice, CompletionResult, FinishReason, TextChunk } from '../types';

export class ResultBuilder {
  private readonly texts: string[] = [];
  private readonly reasons: (FinishReason | undefined)[] = [];
  private readonly started = performance.now();
  private firstTokenMs?: number;
  usage?: { promptTokens: number; completionTokens: number };

  constructor(
    readonly n: number,
    private readonly onChunk?: (c: TextChunk) => void,
  ) {
    for (let i = 0; i < n; i++) this.texts.push('');
  }

  append(index: number, text: string): void {
    if (!text) return;
    this.firstTokenMs ??= performance.now() - this.started;
    this.texts[index] = (this.texts[index] ?? '') + text;
    this.onChunk?.({ index, text });
  }

  finish(index: number, reason: FinishReason): void {
    this.reasons[index] = reason;
    while (this.texts.length <= index) this.texts.push('');
  }

  /** True once every choice has its finish reason (a stream without [DONE] may still be complete). */
  get complete(): boolean {
    for (let i = 0; i < this.texts.length; i++) if (!this.reasons[i]) return false;
    return this.texts.length > 0;
  }

  text(index: number): string {
    return this.texts[index] ?? '';
  }

  build(fallbackUsage: () => { promptTokens: number; completionTokens: number }, cancelled = false): CompletionResult {
    const choices: Choice[] = this.texts.map((text, index) => ({
      index,
      text,
      finishReason: this.reasons[index] ?? (cancelled ? 'cancelled' : 'length'),
    }));
    return {
      choices,
      usage: this.usage ?? fallbackUsage(),
      timings: { firstTokenMs: this.firstTokenMs, totalMs: performance.now() - this.started },
    };
  }
}
