/**
 * Cuts a file into the chunks the index embeds and searches: each definition tree-sitter found
 * (definitions.ts) is a chunk; a definition too long for one is cut at its members (a class's
 * methods), else into windows of lines; code between definitions, and files of languages without a
 * grammar, go in windows of lines. Neighbouring small chunks (under half a window) are merged up to
 * a window's size, so a file of one-line functions does not become hundreds of vectors.
 */
import type { Definition } from './definitions-parse';

export interface Chunk {
  /** First and last line, 0-based, inclusive. */
  startLine: number;
  endLine: number;
  text: string;
  /** Names of the definitions it holds, comma-separated ('' for none). */
  name: string;
}

export const CHUNK_LIMITS = {
  /** A definition up to this many lines is one chunk. */
  maxLines: 60,
  /** Lines per window, and the most lines merged chunks reach. */
  windowLines: 40,
  /** Characters per chunk (about 600 tokens: well within any model's context). */
  maxChars: 2000,
};

interface Segment {
  start: number;
  end: number;
  name: string;
}

/** Chunks of `text`; `defs` from tree-sitter, or undefined for windows of lines only. */
export function chunkFile(text: string, defs: Definition[] | undefined, limits = CHUNK_LIMITS): Chunk[] {
  const lines = text.split('\n');
  const chars = (s: number, e: number) => charsOf(lines, s, e);
  const fits = (s: number, e: number) => e - s + 1 <= limits.maxLines && chars(s, e) <= limits.maxChars;

  /** [s, e] in windows of at most windowLines lines and maxChars characters. */
  const windows = (s: number, e: number, name: string, out: Segment[]) => {
    let from = s;
    while (from <= e) {
      let to = from;
      let size = lines[from]!.length + 1;
      while (to < e && to - from + 1 < limits.windowLines && size + lines[to + 1]!.length + 1 <= limits.maxChars) size += lines[++to]!.length + 1;
      out.push({ start: from, end: to, name });
      from = to + 1;
    }
  };

  /** A definition: whole, or at its members, or in windows. */
  const definition = (d: Definition, members: Definition[], out: Segment[]) => {
    const name = d.name ?? '';
    if (fits(d.startLine, d.endLine)) return void out.push({ start: d.startLine, end: d.endLine, name });
    let at = d.startLine;
    for (const m of members) {
      if (m.startLine < at) continue;
      if (m.startLine > at) windows(at, m.startLine - 1, name, out);
      const end = Math.min(m.endLine, d.endLine);
      if (fits(m.startLine, end)) out.push({ start: m.startLine, end, name: m.name ?? name });
      else windows(m.startLine, end, m.name ?? name, out);
      at = end + 1;
    }
    if (at <= d.endLine) windows(at, d.endLine, name, out);
  };

  const segments: Segment[] = [];
  const top = (defs ?? []).filter((d) => d.depth === 0 && d.startLine >= 0 && d.endLine < lines.length);
  let at = 0;
  for (const d of top) {
    if (d.startLine < at) continue; // inside one already taken
    if (d.startLine > at) windows(at, d.startLine - 1, '', segments);
    const members = (defs ?? []).filter((m) => m.depth === 1 && m.startLine > d.startLine && m.endLine <= d.endLine);
    definition(d, members, segments);
    at = d.endLine + 1;
  }
  if (at < lines.length) windows(at, lines.length - 1, '', segments);
  return merge(trimBlank(segments, lines), lines, limits).map((s) => ({
    startLine: s.start,
    endLine: s.end,
    text: lines.slice(s.start, s.end + 1).join('\n').slice(0, limits.maxChars),
    name: s.name,
  }));
}

/** Characters of lines [s, e] with their newlines. */
function charsOf(lines: string[], s: number, e: number): number {
  let n = 0;
  for (let i = s; i <= e; i++) n += lines[i]!.length + 1;
  return n;
}

/** Segments without their leading and trailing blank lines; blank ones dropped. */
function trimBlank(segments: Segment[], lines: string[]): Segment[] {
  const blank = (i: number) => lines[i]!.trim() === '';
  const out: Segment[] = [];
  for (const s of segments) {
    let { start, end } = s;
    while (start <= end && blank(start)) start++;
    while (end >= start && blank(end)) end--;
    if (start <= end) out.push({ ...s, start, end });
  }
  return out;
}

/** Neighbouring chunks merged while together they stay within a window. */
function merge(segments: Segment[], lines: string[], limits: typeof CHUNK_LIMITS): Segment[] {
  const chars = (s: number, e: number) => charsOf(lines, s, e);
  const out: Segment[] = [];
  let size = 0;
  for (const s of segments) {
    const prev = out[out.length - 1];
    const n = chars(s.start, s.end);
    const gap = prev ? chars(prev.end + 1, s.start - 1) : 0;
    // Only small pieces are merged: a definition of half a window or more keeps a chunk of its own.
    const small = (x: Segment) => x.end - x.start + 1 <= limits.windowLines / 2;
    if (prev && small(prev) && small(s) && s.end - prev.start + 1 <= limits.windowLines && size + gap + n <= limits.maxChars) {
      prev.end = s.end;
      prev.name = [...new Set([...prev.name.split(', '), s.name])].filter(Boolean).join(', ').slice(0, 200);
      size += gap + n;
    } else {
      out.push({ ...s });
      size = n;
    }
  }
  return out;
}
