/**
 * Fits a chat request to the model's context window: the oldest turns are dropped first (a user
 * turn with the answer that followed it), then the attachments are cut around their middle (both
 * ends trimmed at line boundaries, marked with a `…` line), and the system prompt and the last user
 * turn are always kept. The prompt is measured as the backend renders it (CompletionBackend
 * renderChat + countTokens) where it can, else estimated from the messages.
 */
import { NeoxError, type ChatMessage } from '../engine/types';
import type { ChatContext } from '../protocol/index';

export interface Omitted {
  /** Messages of the oldest turns dropped (user and assistant). */
  turns: number;
  /** Characters of the attachments cut. */
  attachmentChars: number;
}

export interface FitInput {
  /** Put before the attachments in the system message (sent only with attachments); kept whole. */
  system: string;
  attachments: ChatContext[];
  /** user / assistant messages, oldest first, ending with the user's question. */
  turns: ChatMessage[];
  /** Tokens the prompt may take. */
  budget: number;
  /** Tokens of the prompt these messages make. */
  measure(messages: ChatMessage[]): Promise<number>;
}

export interface Fitted {
  messages: ChatMessage[];
  omitted: Omitted;
  promptTokens: number;
}

/** One attachment, kept as the range [start, end) of its text. */
interface Kept {
  a: ChatContext;
  start: number;
  end: number;
}

function attachmentText(k: Kept): string {
  const t = k.a.text;
  return (k.start > 0 ? '…\n' : '') + t.slice(k.start, k.end) + (k.end < t.length ? '\n…' : '');
}

function build(system: string, kept: Kept[], turns: ChatMessage[]): ChatMessage[] {
  const live = kept.filter((k) => k.end > k.start);
  const parts = live.map((k) => `${k.a.fileName ?? 'selection'}${k.a.languageId ? ` (${k.a.languageId})` : ''}:\n\`\`\`\n${attachmentText(k)}\n\`\`\``);
  // No attachment left, no system message: the format's own frame (or none) stands alone.
  const content = parts.length ? `${system}${system ? ' ' : ''}The user attached:\n\n${parts.join('\n\n')}` : '';
  return [...(content ? [{ role: 'system' as const, content }] : []), ...turns];
}

/** Cuts `n` characters off `k` around its middle, half from each end, widened to whole lines. */
function cutMiddle(k: Kept, n: number): void {
  const t = k.a.text;
  const half = Math.ceil(n / 2);
  let start = k.start + half;
  let end = k.end - half;
  if (start >= end) {
    k.start = k.end = Math.floor((k.start + k.end) / 2);
    return;
  }
  const nl = t.indexOf('\n', start - 1);
  start = nl >= 0 && nl < end ? nl + 1 : start;
  const back = t.lastIndexOf('\n', end);
  end = back >= start ? back : end;
  if (start >= end) end = start;
  k.start = start;
  k.end = end;
}

export async function fitChat(o: FitInput): Promise<Fitted> {
  const kept: Kept[] = o.attachments.map((a) => ({ a, start: 0, end: a.text.length }));
  const turns = [...o.turns];
  const omitted: Omitted = { turns: 0, attachmentChars: 0 };
  let tokens = await o.measure(build(o.system, kept, turns));

  // 1. the oldest turns, a user turn with its answer, while more than the last question remains
  while (tokens > o.budget && turns.length > 1) {
    turns.shift();
    omitted.turns++;
    while (turns.length > 1 && turns[0]!.role !== 'user') {
      turns.shift();
      omitted.turns++;
    }
    tokens = await o.measure(build(o.system, kept, turns));
  }

  // 2. the attachments, around their middle, each in proportion to its length
  for (let i = 0; i < 16 && tokens > o.budget; i++) {
    const live = kept.filter((k) => k.end > k.start);
    if (live.length === 0) break;
    const messages = build(o.system, kept, turns);
    const chars = messages.reduce((n, m) => n + m.content.length, 0);
    const excess = tokens - o.budget;
    // characters per token of this text, a little more each round so it converges
    const want = Math.ceil(((excess * chars) / tokens) * (1.1 + i * 0.1)) + 8;
    const total = live.reduce((n, k) => n + (k.end - k.start), 0);
    for (const k of live) {
      const len = k.end - k.start;
      cutMiddle(k, want >= total ? len : Math.ceil((want * len) / total));
    }
    tokens = await o.measure(build(o.system, kept, turns));
  }
  for (const k of kept) omitted.attachmentChars += k.a.text.length - (k.end - k.start);

  if (tokens > o.budget) {
    throw new NeoxError(
      `the question is ${tokens} tokens with the system prompt; the model's context leaves ${o.budget} for it: shorten the message`,
      'prompt_too_long',
    );
  }
  return { messages: build(o.system, kept, turns), omitted, promptTokens: tokens };
}
