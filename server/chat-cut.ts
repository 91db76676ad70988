/**
 * One chat attachment cut to a piece of whole lines that fits a number of characters: around its
 * selection (the selected lines first, from the top, then one line above and one below in turn, one
 * side going on alone when the other runs out), else from its start (imports, signatures). The piece
 * is the longest run of that order within the characters, so more characters never keep less, and
 * the fitting can search on them. When not even the first line fits, the start of that line is kept.
 * Comment lines of the attachment's language say what was left out where.
 */
import { NeoxError } from '../engine/types';
import type { ChatAttachmentCut, ChatContext } from '../protocol/index';
import { commentLine, languageFromFileName } from './language';

/** A piece of a line shorter than this says nothing useful: the attachment is left out instead. */
const MIN_LINE_PART = 40;

/** Lines [from, to) of the text, with `lineCut` characters cut off the end of the last one. */
export interface Piece {
  from: number;
  to: number;
  lineCut: number;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Refuses a selection that is not lines of its attachment's text, naming the field. */
export function checkAttachments(context: readonly ChatContext[]): void {
  context.forEach((c, i) => {
    const s = c?.selection;
    if (s === undefined) return;
    const field = `chat: context[${i}].selection`;
    if (!s || !Number.isInteger(s.startLine) || !Number.isInteger(s.endLine)) {
      throw new NeoxError(`${field}: startLine and endLine must be whole numbers, got ${JSON.stringify(s)}`, 'bad_request');
    }
    const lines = String(c.text ?? '').split('\n').length;
    if (s.startLine < 0 || s.endLine < s.startLine || s.endLine >= lines) {
      throw new NeoxError(`${field}: lines ${s.startLine}-${s.endLine} are not in the text (${plural(lines, 'line')})`, 'bad_request');
    }
  });
}

export class CutAttachment {
  private readonly lines: string[];
  /** Line numbers in the order they are kept. */
  private readonly order: number[];
  private readonly languageId: string;

  constructor(readonly context: ChatContext) {
    this.lines = context.text.split('\n');
    this.languageId = context.languageId || (context.fileName ? languageFromFileName(context.fileName) : 'plaintext');
    this.order = keepOrder(this.lines.length, context.selection);
  }

  get length(): number {
    return this.context.text.length;
  }

  whole(): Piece {
    return { from: 0, to: this.lines.length, lineCut: 0 };
  }

  /** The longest piece of at most `chars` characters (empty when not even a useful part of a line fits). */
  pieceFor(chars: number): Piece {
    if (chars >= this.length) return this.whole();
    let from = this.order[0]!;
    let to = from;
    let used = -1; // no newline before the first line
    for (const i of this.order) {
      const cost = this.lines[i]!.length + 1;
      if (used + cost > chars) break;
      used += cost;
      from = Math.min(from, i);
      to = Math.max(to, i + 1);
    }
    if (to > from) return { from, to, lineCut: 0 };
    const first = this.order[0]!;
    if (chars >= MIN_LINE_PART) return { from: first, to: first + 1, lineCut: this.lines[first]!.length - chars };
    return { from: 0, to: 0, lineCut: 0 };
  }

  /** The piece as sent, with a comment line where lines or the end of a line were left out. */
  text(p: Piece): string {
    if (p.to <= p.from) return '';
    const mark = (what: string) => commentLine(`… ${what}`, this.languageId);
    const out: string[] = [];
    if (p.from > 0) out.push(mark(`${plural(p.from, 'line')} omitted above`));
    const kept = this.lines.slice(p.from, p.to);
    if (p.lineCut > 0) {
      const last = kept.pop()!;
      kept.push(last.slice(0, last.length - p.lineCut));
    }
    out.push(...kept);
    if (p.lineCut > 0) out.push(mark(`the rest of this line (${p.lineCut} characters) omitted`));
    const below = this.lines.length - p.to;
    if (below > 0) out.push(mark(`${plural(below, 'line')} omitted below`));
    return out.join('\n');
  }

  /** What the piece leaves out; undefined when it is the whole text. */
  cut(p: Piece): ChatAttachmentCut | undefined {
    let kept = 0;
    for (let i = p.from; i < p.to; i++) kept += this.lines[i]!.length + 1;
    kept = p.to > p.from ? kept - 1 - p.lineCut : 0;
    const chars = this.length - kept;
    if (chars === 0) return undefined;
    const { fileName, selection } = this.context;
    return {
      ...(fileName !== undefined ? { fileName } : {}),
      lines: this.lines.length,
      keptFrom: p.from,
      keptTo: p.to,
      ...(p.lineCut > 0 ? { lineCut: p.lineCut } : {}),
      chars,
      ...(selection ? { selection } : {}),
    };
  }
}

/** The selected lines from the top, then one above and one below in turn; without a selection, from the start. */
function keepOrder(lines: number, selection: ChatContext['selection']): number[] {
  if (!selection) return Array.from({ length: lines }, (_, i) => i);
  const order: number[] = [];
  for (let i = selection.startLine; i <= selection.endLine; i++) order.push(i);
  for (let up = selection.startLine - 1, down = selection.endLine + 1; up >= 0 || down < lines; up--, down++) {
    if (up >= 0) order.push(up);
    if (down < lines) order.push(down);
  }
  return order;
}

/** "in big.ts, 150 lines above and 140 lines below the selection", "in big.ts, the last 280 lines", "all of big.ts". */
export function describeCut(c: ChatAttachmentCut): string {
  const name = c.fileName ?? 'the attachment';
  if (c.keptTo <= c.keptFrom) return `all of ${name}`;
  const lineCut = c.lineCut ? `the last ${c.lineCut} characters of line ${c.keptTo}` : undefined;
  const s = c.selection;
  if (!s) {
    const parts = [
      c.keptFrom > 0 ? `the first ${plural(c.keptFrom, 'line')}` : undefined,
      lineCut,
      c.keptTo < c.lines ? `the last ${plural(c.lines - c.keptTo, 'line')}` : undefined,
    ];
    return `in ${name}, ${listed(parts)}`;
  }
  const above = c.keptFrom;
  const ofSelection = s.endLine + 1 - c.keptTo;
  const below = c.lines - Math.max(c.keptTo, s.endLine + 1);
  if (above > 0 && below > 0 && !lineCut && ofSelection <= 0) {
    return `in ${name}, ${plural(above, 'line')} above and ${plural(below, 'line')} below the selection`;
  }
  const parts = [
    above > 0 ? `${plural(above, 'line')} above the selection` : undefined,
    lineCut,
    ofSelection > 0 ? `the last ${plural(ofSelection, 'line')} of the selection` : undefined,
    below > 0 ? `${plural(below, 'line')} below the selection` : undefined,
  ];
  return `in ${name}, ${listed(parts)}`;
}

/** "a", "a and b", "a, b and c". */
function listed(parts: (string | undefined)[]): string {
  const p = parts.filter((x): x is string => !!x);
  return p.length > 1 ? `${p.slice(0, -1).join(', ')} and ${p.at(-1)}` : (p[0] ?? '');
}
