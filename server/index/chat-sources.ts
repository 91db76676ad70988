/**
 * Workspace code for a chat question: the chunks the index finds go to the model as attachments
 * named by path and lines, and the answer lists, as sources, the lines of each that fitted in the
 * model's context (chat-fit.ts may cut them like any attachment).
 */
import type { ChatAttachmentCut, ChatContext, CodeLocation } from '../../protocol/index';
import { languageFromFileName } from '../language';
import type { RelatedChunk } from './retrieval';

/** Chunks a question brings, at most. */
export const CHAT_CHUNKS = 3;

/**
 * Whether a question names code the workspace may hold: an identifier written as code
 * (snake_case, camelCase, dotted.names, or a call like `parse(`) or a file name. Plain-language
 * questions ("write a function that sums a list") bring no chunks: the index ranks something
 * first for any words, and with a small model three unrelated chunks in the prompt change the
 * answer for the worse (seen in the real-editor chat scenario: a code question answered `<dd:`).
 */
export function namesWorkspaceCode(question: string): boolean {
  const code = /\b[A-Za-z_$][\w$]*(?:_[\w$]+|[a-z0-9][A-Z][\w$]*|\.[A-Za-z_$][\w$]*)\b|\b[A-Za-z_$][\w$]{2,}\(|\b[\w-]+\.[a-z]{1,5}\b/;
  return code.test(question.replace(/```[\s\S]*?```/g, ' '));
}

const nameOf = (c: RelatedChunk) => `${c.path}:${c.startLine + 1}-${c.endLine + 1}`;

export function chunkAttachments(chunks: RelatedChunk[]): ChatContext[] {
  return chunks.map((c) => ({ fileName: nameOf(c), languageId: languageFromFileName(c.path), text: c.text }));
}

/** The lines of each chunk that reached the model (`cuts`: what fitting kept of each cut attachment). */
export function sourcesUsed(chunks: RelatedChunk[], cuts: ChatAttachmentCut[] = []): CodeLocation[] {
  return chunks.flatMap((c) => {
    const cut = cuts.find((x) => x.fileName === nameOf(c));
    if (!cut) return [{ uri: c.uri, path: c.path, startLine: c.startLine, endLine: c.endLine }];
    if (cut.keptTo <= cut.keptFrom) return [];
    return [{ uri: c.uri, path: c.path, startLine: c.startLine + cut.keptFrom, endLine: c.startLine + cut.keptTo - 1 }];
  });
}
