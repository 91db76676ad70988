/**
 * The streaming requests: code from a comment or docstring, a whole new file, and chat.
 * Each streams raw text through `emit` as it is generated and returns the post-processed
 * result; each stops between two tokens when `signal` aborts.
 */
import { NeoxError, type ChatMessage, type CompletionBackend, type ModelInfo } from '../engine/types';
import { findComment } from './comment';
import { templateFor } from './context/templates';
import { asLineComments, languageFromFileName } from './language';
import { postprocess } from './postprocess/index';
import { cutRepetitionLoops, cutRunLoops } from './postprocess/repetition';
import type { ChatParams, ChatResult, GenerateFileParams, GenerateFileResult, GenerateFromCommentResult } from './protocol';

export interface GenerateDeps {
  backend: CompletionBackend;
  info: ModelInfo;
  maxTokens: number;
  temperature: number;
  countTokens(text: string): Promise<number>;
  signal: AbortSignal;
  emit(delta: string): void;
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
  const header = templateFor(doc.languageId, doc.path).header;
  const want = Math.max(d.maxTokens, 256);
  const budget = Math.max(64, d.info.contextLength - want - (await d.countTokens(header)) - 8);
  const prompt = header + (await tailWithin(before, budget, d));
  const maxTokens = await roomFor(prompt, want, d);
  let streamed = '';
  const result = await d.backend.complete(
    { prompt, maxTokens, temperature: d.temperature, stop: ['\n\n\n'], signal: d.signal },
    (ch) => {
      if (ch.index !== 0) return;
      streamed += ch.text;
      d.emit(ch.text);
    },
  );
  const raw = result.choices[0]?.text ?? streamed;
  const code =
    postprocess(raw, { languageId: doc.languageId, prefix: before.slice(-8000), suffix: '\n' + after.slice(0, 4000), multiline: true, maxLines: 80 }) ?? '';
  const endChar = lines[c.endLine]!.length;
  return {
    range: { start: { line: c.endLine, character: endChar }, end: { line: c.endLine, character: endChar } },
    text: code ? '\n' + c.indent + code : '',
    comment: c.text,
    finishReason: d.signal.aborted ? 'cancelled' : (result.choices[0]?.finishReason ?? 'stop'),
  };
}

export async function generateFile(p: GenerateFileParams, d: GenerateDeps): Promise<GenerateFileResult> {
  if (!p.description?.trim()) throw new NeoxError('generateFile: description is empty', 'bad_request');
  if (!p.fileName?.trim()) throw new NeoxError('generateFile: fileName is empty', 'bad_request');
  const languageId = p.languageId || languageFromFileName(p.fileName);
  const t = templateFor(languageId, p.fileName);
  const top = asLineComments(p.description.trim(), languageId) + '\n';
  const prompt = t.header + (t.fewShot ? t.fewShot + '\n\n' : '') + top;
  const maxTokens = await roomFor(prompt, Math.max(d.maxTokens, 512), d);
  d.emit(top);
  const result = await d.backend.complete(
    { prompt, maxTokens, temperature: d.temperature, stop: ['\n\n\n\n'], signal: d.signal },
    (ch) => ch.index === 0 && d.emit(ch.text),
  );
  const body = cutRepetitionLoops(result.choices[0]?.text ?? '', { languageId, prefix: prompt, suffix: '', multiline: true, maxLines: 1000 })
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n')
    .replace(/\n+$/, '');
  return { text: top + body + '\n', finishReason: d.signal.aborted ? 'cancelled' : (result.choices[0]?.finishReason ?? 'stop') };
}

export async function chat(p: ChatParams, d: GenerateDeps): Promise<ChatResult> {
  if (!Array.isArray(p.messages) || p.messages.length === 0) throw new NeoxError('chat: messages is empty', 'bad_request');
  const messages: ChatMessage[] = [];
  const ctx = (p.context ?? []).filter((c) => c && typeof c.text === 'string' && c.text.trim());
  if (ctx.length) {
    const parts = ctx.map((c) => `${c.fileName ?? 'selection'}${c.languageId ? ` (${c.languageId})` : ''}:\n\`\`\`\n${c.text}\n\`\`\``);
    messages.push({ role: 'system', content: `You are a helpful coding assistant. The user attached:\n\n${parts.join('\n\n')}` });
  }
  for (const m of p.messages) {
    if (m.role !== 'user' && m.role !== 'assistant') throw new NeoxError(`chat: message role must be user or assistant, got ${JSON.stringify(m.role)}`, 'bad_request');
    messages.push({ role: m.role, content: String(m.content ?? '') });
  }
  const result = await d.backend.chat(
    { messages, maxTokens: Math.max(d.maxTokens, 256), temperature: d.temperature, signal: d.signal },
    (ch) => ch.index === 0 && d.emit(ch.text),
  );
  // Small models fall into loops in prose too: the answer keeps only the first run of a
  // back-to-back loop (the client re-renders the final content over what streamed).
  const text = cutRunLoops(result.choices[0]?.text ?? '');
  if (d.signal.aborted) return { content: text.trim(), finishReason: 'cancelled' };
  return { content: text.trim(), finishReason: result.choices[0]?.finishReason ?? 'stop' };
}
