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
