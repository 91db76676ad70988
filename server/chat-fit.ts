/**
 * Fits a chat request to the model's context window: the oldest turns are dropped first (a user
 * turn with the answer that followed it), then the attachments are cut to pieces of whole lines
 * around their selection, else from their start (chat-cut.ts), and the system prompt and the last
 * user turn are always kept. The attachments share one number of characters each may keep (a short
 * one stays whole, the rest get the same), searched by bisection on the measured prompt, so the cut
 * is the largest that fits whatever the characters per token. The prompt is measured as the backend
 * renders it (CompletionBackend renderChat + countTokens) where it can, else estimated.
 */
import { NeoxError, type ChatMessage } from '../engine/types';
import type { ChatAttachmentCut, ChatContext } from '../protocol/index';
import { CutAttachment, type Piece } from './chat-cut';

export { checkAttachments } from './chat-cut';

export interface Omitted {
  /** Messages of the oldest turns dropped (user and assistant). */
  turns: number;
  /** Characters of the attachments cut. */
  attachmentChars: number;
  /** What each cut attachment kept; absent when none was cut. */
  attachments?: ChatAttachmentCut[];
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

function build(system: string, attachments: CutAttachment[], pieces: Piece[], turns: ChatMessage[]): ChatMessage[] {
  const parts: string[] = [];
  attachments.forEach((a, i) => {
    const text = a.text(pieces[i]!);
    if (!text) return;
    const { fileName, languageId } = a.context;
    parts.push(`${fileName ?? 'selection'}${languageId ? ` (${languageId})` : ''}:\n\`\`\`\n${text}\n\`\`\``);
  });
  // No attachment left, no system message: the format's own frame (or none) stands alone.
  const content = parts.length ? `${system}${system ? ' ' : ''}The user attached:\n\n${parts.join('\n\n')}` : '';
  return [...(content ? [{ role: 'system' as const, content }] : []), ...turns];
}

/**
 * The pieces for the largest number of characters each attachment may keep with the prompt within
 * the budget (the tokens of the whole attachments are over it), by bisection: more characters never
 * keep less, and pieces already measured are not measured again.
 */
async function cutAttachments(o: FitInput, attachments: CutAttachment[], turns: ChatMessage[]): Promise<{ pieces: Piece[]; tokens: number }> {
  const measured = new Map<string, number>();
  const tokensOf = async (pieces: Piece[]) => {
    const key = pieces.map((p) => `${p.from}:${p.to}:${p.lineCut}`).join(' ');
    let t = measured.get(key);
    if (t === undefined) measured.set(key, (t = await o.measure(build(o.system, attachments, pieces, turns))));
    return t;
  };
  const piecesFor = (chars: number) => attachments.map((a) => a.pieceFor(chars));
  let fits = 0;
  let over = Math.max(...attachments.map((a) => a.length));
  const none = await tokensOf(piecesFor(fits));
  if (none > o.budget) return { pieces: piecesFor(fits), tokens: none };
  while (over - fits > 1) {
    const mid = Math.floor((fits + over) / 2);
    if ((await tokensOf(piecesFor(mid))) <= o.budget) fits = mid;
    else over = mid;
  }
  const pieces = piecesFor(fits);
  return { pieces, tokens: await tokensOf(pieces) };
}

export async function fitChat(o: FitInput): Promise<Fitted> {
  const attachments = o.attachments.map((a) => new CutAttachment(a));
  let pieces = attachments.map((a) => a.whole());
  const turns = [...o.turns];
  const omitted: Omitted = { turns: 0, attachmentChars: 0 };
  let tokens = await o.measure(build(o.system, attachments, pieces, turns));

  // 1. the oldest turns, a user turn with its answer, while more than the last question remains
  while (tokens > o.budget && turns.length > 1) {
    turns.shift();
    omitted.turns++;
    while (turns.length > 1 && turns[0]!.role !== 'user') {
      turns.shift();
      omitted.turns++;
    }
    tokens = await o.measure(build(o.system, attachments, pieces, turns));
  }

  // 2. the attachments, to the largest pieces that fit
  if (tokens > o.budget && attachments.length) ({ pieces, tokens } = await cutAttachments(o, attachments, turns));

  if (tokens > o.budget) {
    throw new NeoxError(
      `the question is ${tokens} tokens with the system prompt; the model's context leaves ${o.budget} for it: shorten the message`,
      'prompt_too_long',
    );
  }
  const cuts = attachments.map((a, i) => a.cut(pieces[i]!)).filter((c) => c !== undefined);
  if (cuts.length) {
    omitted.attachments = cuts;
    omitted.attachmentChars = cuts.reduce((n, c) => n + c.chars, 0);
  }
  return { messages: build(o.system, attachments, pieces, turns), omitted, promptTokens: tokens };
}
