/**
 * The streaming requests: code from a comment or docstring, a whole new file, and chat.
 * Each streams its text through `emit` post-processed as it is generated (server/postprocess/
 * stream.ts): the result is exactly what was emitted, nothing shown is taken back, and a loop or
 * a cut ends the engine request. Each stops between two tokens when `signal` aborts.
 */
import { chatFormatLabel } from '../engine/index';
import { CHAT_FORMATS, NeoxError, type ChatFormat, type ChatMessage, type CompletionBackend, type CompletionResult, type DecodingOptions, type ModelInfo, type TextChunk } from '../engine/types';
import { codeLines, findComment } from './comment';
import { chatSystemPrompt, codeSteeringFor, templateFor } from './context/templates';
import { asLineComments, languageFromFileName } from './language';
import { postprocess, type PostprocessContext } from './postprocess/index';
import { LoopStream } from './postprocess/loop-stream';
import { chain, LinesStream, TrimStream, type TextStream } from './postprocess/stream';
import { trimTrailingWhitespace } from './postprocess/trim-whitespace';
import { checkAttachments, fitChat, type Omitted } from './chat-fit';
import { describeCut } from './chat-cut';
import { chunkAttachments, sourcesUsed } from './index/chat-sources';
import type { RelatedChunk } from './index/retrieval';
import type { ChatParams, ChatResult, GenerateFileParams, GenerateFileResult, GenerateFromCommentResult } from '../protocol/index';

export interface GenerateDeps {
  backend: CompletionBackend;
  info: ModelInfo;
  maxTokens: number;
  temperature: number;
  /** neoxComplete.chatFormat: the chat prompt format when the request names none. */
  chatFormat?: ChatFormat | 'auto';
  countTokens(text: string): Promise<number>;
  signal: AbortSignal;
  emit(delta: string): void;
  /** Workspace code related to a chat question (the workspace index); absent or [] when there is none. */
  related?(question: string): Promise<RelatedChunk[]>;
}

/** Room left for generated tokens after `prompt`, at most `want`; errors if the prompt alone is too long. */
async function roomFor(prompt: string, want: number, d: GenerateDeps): Promise<number> {
  const used = await d.countTokens(prompt);
  const room = d.info.contextLength - used - 1;
  if (room < 8) throw new NeoxError(`the prompt is ${used} tokens; the model's context holds ${d.info.contextLength}`, 'prompt_too_long');
  return Math.min(want, room);
}

/** Keep the tail of `text` that fits in `budget` tokens (cut at a line start). */
async function tailWithin(text: string, budget: number, d: GenerateDeps): Promise<string> {
  let t = text;
  for (let i = 0; i < 8 && t.length > 0 && (await d.countTokens(t)) > budget; i++) {
    const cut = Math.floor(t.length * 0.3);
    const nl = t.indexOf('\n', cut);
    t = nl >= 0 ? t.slice(nl + 1) : t.slice(cut);
  }
  return t;
}

/** What streamed through a TextStream: the text shown, and why the generation ended. */
interface Streamed {
  text: string;
  finishReason: string;
}

/**
 * Runs one generation through `stream`, emitting what it lets through; ends the engine request as
 * soon as the stream stops (the rest would be dropped). Cancelled: the text shown so far.
 */
async function streamThrough(
  generate: (signal: AbortSignal, onChunk: (c: TextChunk) => void) => Promise<CompletionResult>,
  stream: TextStream,
  d: GenerateDeps,
  emit: (text: string) => void = d.emit,
  /** Text the prompt already ends with that belongs to the result (code forced on a retry). */
  lead = '',
): Promise<Streamed> {
  const stop = new AbortController();
  let text = '';
  const show = (t: string) => {
    if (!t) return;
    text += t;
    emit(t);
  };
  show(stream.push(lead));
  const result = await generate(AbortSignal.any([d.signal, stop.signal]), (ch) => {
    if (ch.index !== 0 || stop.signal.aborted) return;
    show(stream.push(ch.text));
    if (stream.stopped) stop.abort();
  });
  if (d.signal.aborted) return { text, finishReason: 'cancelled' };
  show(stream.end());
  return { text, finishReason: stop.signal.aborted ? 'stop' : (result.choices[0]?.finishReason ?? 'stop') };
}

/**
 * How to ask again when the model wrote only comments: first as asked; then with the first words
 * of code written for it (`def `, `func `...), when the language has them; then sampled with a fixed
 * seed, which leaves the greedy rut a tiny model falls into.
 */
function attempts(force: string, temperature: number): { force: string; options: Partial<DecodingOptions> }[] {
  return [
    { force: '', options: { temperature } },
    ...(force ? [{ force, options: { temperature } }] : []),
    { force: '', options: { temperature: 0.8, topP: 0.95, seed: 7, repetitionPenalty: 1.15 } },
  ];
}

/** trimTrailingWhitespace looks at no context. */
const NO_CONTEXT: PostprocessContext = { languageId: '', prefix: '', suffix: '', multiline: true, maxLines: Infinity };

const noCode = (what: string) =>
  new NeoxError(`the model wrote no code for ${what}, only comments; try a more concrete description, or a larger model (neoxComplete.modelPath)`, 'no_code');

export async function generateFromComment(
  doc: { uri: string; path: string; languageId: string; text: string },
  line: number,
  d: GenerateDeps,
): Promise<GenerateFromCommentResult> {
  const c = findComment(doc.text, line, doc.languageId);
  if (!c) {
    throw new NeoxError(`no comment or docstring at or above line ${line + 1} of ${doc.path}: write one describing the code first`, 'no_comment');
  }
  const lines = doc.text.split('\n');
  const before = lines.slice(0, c.endLine + 1).join('\n') + '\n' + c.indent;
  const after = lines.slice(c.endLine + 1).join('\n');
  const steer = codeSteeringFor(doc.languageId, c.docstring ? 'docstring' : 'comment');
  // The examples show this language's comments (or docstrings) with their code, as in a real file.
  const header = templateFor(doc.languageId, doc.path).header + (steer.examples ? steer.examples + '\n\n\n' : '');
  const want = Math.max(d.maxTokens, 256);
  const budget = Math.max(64, d.info.contextLength - want - (await d.countTokens(header)) - 16);
  const context = header + (await tailWithin(before, budget, d));
  const ctx: PostprocessContext = { languageId: doc.languageId, prefix: before.slice(-8000), suffix: '\n' + after.slice(0, 4000), multiline: true, maxLines: 80 };
  const endChar = lines[c.endLine]!.length;
  const at = { line: c.endLine, character: endChar };
  // The client shows the stream from a new line below the comment: the code's indentation leads.
  let first = true;
  const emit = (t: string) => {
    d.emit((first ? c.indent : '') + t);
    first = false;
  };
  for (const a of attempts(c.indent ? steer.inner : steer.top, d.temperature)) {
    const prompt = context + a.force;
    const maxTokens = await roomFor(prompt, want, d);
    const stream = chain(
      new LoopStream('code'),
      new LinesStream((t) => postprocess(t, ctx) ?? '', (t) => codeLines(t, doc.languageId).length > 0),
    );
    const r = await streamThrough(
      (signal, onChunk) => d.backend.complete({ prompt, maxTokens, ...a.options, stop: ['\n\n\n'], signal }, onChunk),
      stream,
      d,
      emit,
      a.force,
    );
    const code = r.text;
    if (r.finishReason === 'cancelled' || code) {
      return { range: { start: at, end: at }, text: code ? '\n' + c.indent + code : '', comment: c.text, finishReason: r.finishReason };
    }
  }
  throw noCode('this comment');
}

export async function generateFile(p: GenerateFileParams, d: GenerateDeps): Promise<GenerateFileResult> {
  if (!p.description?.trim()) throw new NeoxError('generateFile: description is empty', 'bad_request');
  if (!p.fileName?.trim()) throw new NeoxError('generateFile: fileName is empty', 'bad_request');
  const languageId = p.languageId || languageFromFileName(p.fileName);
  const t = templateFor(languageId, p.fileName);
  const steer = codeSteeringFor(languageId);
  const top = asLineComments(p.description.trim(), languageId) + '\n';
  const context = t.header + (t.fewShot ? t.fewShot + '\n\n' : '') + top;
  // The description comment is shown with the first code, so a refused file shows nothing.
  let first = true;
  const emit = (s: string) => {
    d.emit((first ? top : '') + s);
    first = false;
  };
  for (const a of attempts(steer.top, d.temperature)) {
    const prompt = context + a.force;
    const maxTokens = await roomFor(prompt, Math.max(d.maxTokens, 512), d);
    const stream = chain(
      new LoopStream('code'),
      new LinesStream((s) => trimTrailingWhitespace(s, NO_CONTEXT), (s) => codeLines(s, languageId).length > 0),
    );
    const r = await streamThrough(
      (signal, onChunk) => d.backend.complete({ prompt, maxTokens, ...a.options, stop: ['\n\n\n\n'], signal }, onChunk),
      stream,
      d,
      emit,
      a.force,
    );
    if (r.finishReason === 'cancelled' || r.text) {
      if (r.text) d.emit('\n');
      return { text: r.text ? top + r.text + '\n' : '', finishReason: r.finishReason };
    }
  }
  throw noCode('this description');
}

export async function chat(p: ChatParams, d: GenerateDeps): Promise<ChatResult> {
  if (!Array.isArray(p.messages) || p.messages.length === 0) throw new NeoxError('chat: messages is empty', 'bad_request');
  const format = p.format ?? d.chatFormat ?? 'auto';
  if (format !== 'auto' && !(CHAT_FORMATS as readonly string[]).includes(format)) {
    throw new NeoxError(`chat: unknown format ${JSON.stringify(format)} (known: auto, ${CHAT_FORMATS.join(', ')})`, 'bad_request');
  }
  const turns: ChatMessage[] = [];
  for (const m of p.messages) {
    if (m.role !== 'user' && m.role !== 'assistant') throw new NeoxError(`chat: message role must be user or assistant, got ${JSON.stringify(m.role)}`, 'bad_request');
    turns.push({ role: m.role, content: String(m.content ?? '') });
  }
  const maxTokens = Math.max(d.maxTokens, 256);
  // The history and attachments are fitted to what the context leaves after room for the answer.
  const budget = d.info.contextLength - Math.min(maxTokens, Math.floor(d.info.contextLength / 2)) - 1;
  const measure = async (messages: ChatMessage[]) => {
    if (d.backend.renderChat) return d.countTokens((await d.backend.renderChat({ messages, format, maxTokens })).prompt);
    // Template overhead is a few tokens per message (as the remote backends estimate it).
    let n = 8;
    for (const m of messages) n += (await d.countTokens(m.content)) + 8;
    return n;
  };
  checkAttachments(p.context ?? []);
  const question = [...turns].reverse().find((t) => t.role === 'user')?.content ?? '';
  // A failed search leaves the question without workspace code rather than failing it.
  const related = (await d.related?.(question).catch(() => [])) ?? [];
  const ctx = [...(p.context ?? []).filter((c) => c && typeof c.text === 'string' && c.text.trim()), ...chunkAttachments(related)];
  const system = chatSystemPrompt(ctx[0]?.languageId);
  const fitted = await fitChat({ system, attachments: ctx, turns, budget, measure });
  let used: string | undefined;
  // Small models fall into loops in prose too: the answer stops at a back-to-back loop, keeping its
  // first run; surrounding whitespace is trimmed as it streams.
  const r = await streamThrough(
    async (signal, onChunk) => {
      const res = await d.backend.chat({ messages: fitted.messages, format, maxTokens, temperature: d.temperature, signal }, onChunk);
      used = res.chatFormat;
      return res;
    },
    chain(new LoopStream('prose'), new TrimStream(true)),
    d,
  );
  const earlier = Number.isInteger(p.earlierTurns) && p.earlierTurns! > 0 ? p.earlierTurns! : 0;
  const omitted = { ...fitted.omitted, turns: fitted.omitted.turns + earlier };
  const notice = omittedNotice(omitted, d.info.contextLength);
  return {
    content: r.text,
    finishReason: r.finishReason,
    ...(used ? { format: used, formatLabel: chatFormatLabel(used) } : {}),
    omitted,
    ...(notice ? { notice } : {}),
    ...(related.length ? { sources: sourcesUsed(related, omitted.attachments) } : {}),
  };
}

/**
 * "Left out to fit the model's context of 2048 tokens: the 4 oldest messages; in big.ts, 150 lines
 * above and 140 lines below the selection."
 */
export function omittedNotice(o: Omitted, contextLength: number): string | undefined {
  const parts: string[] = [];
  if (o.turns > 0) parts.push(o.turns === 1 ? 'the oldest message' : `the ${o.turns} oldest messages`);
  parts.push(...(o.attachments ?? []).map(describeCut));
  return parts.length ? `Left out to fit the model's context of ${contextLength} tokens: ${parts.join('; ')}.` : undefined;
}
