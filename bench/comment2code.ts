/**
 * `npm run bench:comment2code`: how often "Generate code from comment" produces code. Each of the
 * 30 comments in bench/comment2code.jsonl (Python, JavaScript, TypeScript, Java, Go; six each) is
 * opened as a document and sent as neox/generateFromComment to the real language server over stdio
 * (the editor's path), default model, int8, greedy. A result counts when it has at least one code
 * line (not blank, not a comment: server/comment.ts codeLines). Also counts the results whose
 * streamed text equals the final text (nothing shown was taken back). Prints one JSON object.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, startServer } from '../test/server/lsp-harness';
import { codeLines } from '../server/comment';

interface Case {
  lang: string;
  file: string;
  text: string;
}
const cases = readFileSync(join(ROOT, 'bench/comment2code.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as Case);

const h = await startServer({ quantization: 'int8', temperature: 0, debounceMs: 0 });
try {
  await h.waitReady(300_000);
  const byLanguage: Record<string, { n: number; withCode: number }> = {};
  const items = [];
  let withCode = 0;
  let streamEqualsFinal = 0;
  const t0 = performance.now();
  for (const [i, c] of cases.entries()) {
    const uri = `file:///work/project/${c.file}`;
    await h.open(uri, c.lang, c.text);
    const streamId = `c2c-${i}`;
    const line = c.text.split('\n').length - 1; // the empty line after the comment
    let text = '';
    let error: string | undefined;
    try {
      const r = await h.conn.sendRequest<{ text: string }>('neox/generateFromComment', { streamId, textDocument: { uri }, position: { line, character: 0 } });
      text = r.text;
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    const streamed = h.streams.filter((s) => s.streamId === streamId).map((s) => s.delta).join('');
    const code = codeLines(text, c.lang);
    const ok = code.length > 0;
    withCode += ok ? 1 : 0;
    // The client starts the preview on a new line below the comment, then appends the deltas.
    if (!error && '\n' + streamed === text) streamEqualsFinal++;
    const b = (byLanguage[c.lang] ??= { n: 0, withCode: 0 });
    b.n++;
    b.withCode += ok ? 1 : 0;
    items.push({ file: c.file, code: ok, codeLines: code.length, lines: text.split('\n').length - 1, first: (code[0] ?? text.trim().split('\n')[0] ?? '').trim().slice(0, 60), ...(error ? { error } : {}) });
  }
  console.log(
    JSON.stringify(
      {
        bench: 'comment2code',
        model: 'neox-code-23m',
        quantization: 'int8',
        n: cases.length,
        withCode,
        share: Math.round((withCode / cases.length) * 1000) / 1000,
        streamEqualsFinal,
        byLanguage,
        seconds: Math.round((performance.now() - t0) / 100) / 10,
        items,
      },
      null,
      2,
    ),
  );
} finally {
  await h.close();
}
