// Golden cases of inline post-processing, one YAML file each under test/fixtures/postprocess/<rule or
// scenario>/. Every case runs through the whole pipeline the language server runs for an inline
// completion (server/postprocess/inline.ts: cursor context and multi-line decision, untrail, every rule
// in order), so a case shows the suggestion the user would see, not what one rule does alone.
//
// A case file:
//   language: python
//   settings: { maxLines: 2 }     # optional; the server's default otherwise
//   document: "def add(a, b):║"   # the document, ║ marks the cursor
//   raw: "..."                    # the model's output; a list of strings = the chunks as streamed
//   expected: "..."               # the suggestion; null = none shown
//   stopsEarly: true              # optional, streamed cases: the server ends the generation before the last chunk
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { inlineContext, inlineSuggestion, isComplete, untrail, type InlineContext } from '../../server/postprocess/inline';

const ROOT = join(import.meta.dirname, '../fixtures/postprocess');
const CURSOR = '║';
/** The `maxLines` setting's default (server/settings.ts). */
const DEFAULT_MAX_LINES = 12;

interface Case {
  language: string;
  settings?: { maxLines?: number };
  document: string;
  raw: string | string[];
  expected: string | null;
  stopsEarly?: boolean;
}

const FIELDS = new Set(['language', 'settings', 'document', 'raw', 'expected', 'stopsEarly']);

function caseFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) return caseFiles(p);
      return name.endsWith('.yaml') ? [p] : [];
    });
}

/** The parsed case, or an error naming the field at fault (a typo must not make a case pass on nothing). */
function readCase(file: string): Case {
  const c = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  for (const k of Object.keys(c)) if (!FIELDS.has(k)) throw new Error(`unknown field "${k}" (fields: ${[...FIELDS].join(', ')})`);
  if (typeof c.language !== 'string') throw new Error('language: a string is required');
  if (typeof c.document !== 'string' || c.document.split(CURSOR).length !== 2) throw new Error(`document: a string with one ${CURSOR} is required`);
  const chunks = Array.isArray(c.raw) ? c.raw : [c.raw];
  if (chunks.length === 0 || chunks.some((r) => typeof r !== 'string')) throw new Error('raw: a string or a list of strings is required');
  if (c.expected !== null && typeof c.expected !== 'string') throw new Error('expected: a string, or null for no suggestion');
  if (c.stopsEarly !== undefined && !Array.isArray(c.raw)) throw new Error('stopsEarly: only for streamed (list) raw output');
  return c as unknown as Case;
}

/** The chunks the server takes before it ends the generation (completion-service's early stop). */
function streamed(chunks: string[], ctx: InlineContext): string {
  let acc = '';
  for (const c of chunks) {
    acc += c;
    if (c.includes('\n') && isComplete(untrail(acc, ctx), ctx)) break;
  }
  return acc;
}

/** Line diff of expected against actual, each line JSON-quoted so whitespace shows. */
function lineDiff(expected: string | null, actual: string | null): string {
  const a = expected === null ? [] : expected.split('\n');
  const b = actual === null ? [] : actual.split('\n');
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) out.push(`  ${JSON.stringify(a[i++])}`), j++;
    else if (j < b.length && (i === a.length || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) out.push(`+ ${JSON.stringify(b[j++])}`);
    else out.push(`- ${JSON.stringify(a[i++])}`);
  }
  const none = (v: string | null) => (v === null ? ' (no suggestion)' : '');
  return `- expected${none(expected)}\n+ actual${none(actual)}\n${out.join('\n')}`;
}

const files = caseFiles(ROOT);
test('golden post-processing cases exist', () => assert.ok(files.length >= 40, `${files.length} case files under ${ROOT}`));

for (const file of files) {
  const name = relative(ROOT, file);
  test(`postprocess golden: ${name}`, async () => {
    let c: Case;
    try {
      c = readCase(file);
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message}`);
    }
    const offset = c.document.indexOf(CURSOR);
    const text = c.document.replace(CURSOR, '');
    const ctx = await inlineContext(text, offset, c.language, c.settings?.maxLines ?? DEFAULT_MAX_LINES);
    const chunks = Array.isArray(c.raw) ? c.raw : [c.raw];
    const whole = chunks.join('');
    const check = (raw: string, what: string) => {
      const actual = inlineSuggestion(raw, ctx) ?? null;
      if (actual !== c.expected) {
        assert.fail(`${name}: ${what} (multi-line: ${ctx.multiline})\n${lineDiff(c.expected, actual)}`);
      }
    };
    check(whole, 'the suggestion from the whole output');
    if (Array.isArray(c.raw)) {
      // The server stops generating once the suggestion is complete: that must not change it.
      const taken = streamed(chunks, ctx);
      check(taken, `the suggestion from the output up to the early stop (${JSON.stringify(taken)})`);
      if (c.stopsEarly !== undefined) assert.equal(taken.length < whole.length, c.stopsEarly, `${name}: stopsEarly`);
    }
  });
}
