/**
 * `npm run bench:lsp`: request -> response latency of textDocument/inlineCompletion through the
 * real language server over stdio (the editor's view), default model, int8 (--quant fp32 to
 * compare), maxTokens 16, at 512 and 1500 tokens of context. Prints one JSON object.
 *
 * Kinds, classified by the server's own account of each answer (neox/debug/lastCompletion):
 * - cold: a new document each time, so no cached prompt prefix beyond the shared header;
 * - prefixHit: the user typed a character the suggestion did not predict: a new generation whose
 *   prompt extends the previous one, so the engine reuses the cached keys/values;
 * - typedThrough: the user typed what the suggestion begins with: answered without generating.
 * Target: p50 < 150 ms for prefixHit.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, startServer, type Harness } from '../test/server/lsp-harness';
import { DebugLastCompletionRequest } from '../protocol/debug';

const args = process.argv.slice(2);
const quant = (args[args.indexOf('--quant') + 1] && args.includes('--quant') ? args[args.indexOf('--quant') + 1] : 'int8') as 'int8' | 'fp32';
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 20);
const BUDGETS = [512, 1500];

const fixtures = readFileSync(join(ROOT, 'test/fixtures/code-eval.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as { lang: string; path: string; text: string })
  .filter((f) => f.text.length > 9000 && ['python', 'javascript', 'java', 'c', 'typescript'].includes(f.lang));

const pct = (xs: number[], p: number) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]! * 10) / 10;
};
const summary = (xs: number[]) => ({ n: xs.length, p50: pct(xs, 50), p95: pct(xs, 95) });

/** The document cut at the end of a line about 80% into the file: plenty of context before the cursor. */
function cut(text: string): { text: string; line: number; character: number } {
  let at = text.indexOf('\n', Math.floor(text.length * 0.8));
  if (at < 0) at = text.length;
  const t = text.slice(0, at) + '\n';
  return { text: t, line: t.split('\n').length - 1, character: 0 };
}

async function timed(h: Harness, uri: string, line: number, character: number) {
  const t0 = performance.now();
  const r = await h.inline(uri, { line, character });
  const ms = performance.now() - t0;
  const a = await h.conn.sendRequest(DebugLastCompletionRequest);
  if (process.env.BENCH_VERBOSE) process.stderr.write(`  ${uri} ${line}:${character} ${a.source} ${ms.toFixed(0)} ms\n`);
  const first = r?.items[0]?.insertText;
  return { ms, a, suggestion: typeof first === 'string' ? first : undefined };
}

async function benchBudget(budget: number) {
  const h = await startServer({ quantization: quant, maxTokens: 16, contextBudget: budget, debounceMs: 0 });
  const loadT0 = performance.now();
  await h.waitReady(600_000);
  const loadMs = performance.now() - loadT0;
  const cold: number[] = [];
  const prefixHit: number[] = [];
  const typedThrough: number[] = [];
  const promptTokens: number[] = [];
  const reused: number[] = [];
  try {
    // Warm-up: tree-sitter grammars, tokenizer, first ONNX runs.
    for (const f of fixtures.slice(0, 3)) {
      const c = cut(f.text);
      await h.open(`file:///work/project/warm/${f.path}`, f.lang, c.text);
      await timed(h, `file:///work/project/warm/${f.path}`, c.line, c.character);
    }
    for (let i = 0; i < SAMPLES; i++) {
      const f = fixtures[(i + 3) % fixtures.length]!;
      const uri = `file:///work/project/cold${i}/${f.path}`;
      const c = cut(f.text);
      await h.open(uri, f.lang, c.text);
      const r = await timed(h, uri, c.line, c.character);
      if (r.a.source === 'generated') {
        cold.push(r.ms);
        if (r.a.promptTokens) promptTokens.push(r.a.promptTokens);
      }
      // Keystrokes on the same line: a character the suggestion did not predict -> prefix hit;
      // the suggestion's own first character -> typed-through.
      let text = c.text;
      let col = 0;
      let suggestion = r.suggestion;
      for (let k = 0; k < 3; k++) {
        const typeSuggested = suggestion !== undefined && suggestion.length > 1 && k % 2 === 1;
        const ch = typeSuggested ? suggestion![0]! : suggestion?.startsWith('x') ? 'y' : 'x';
        text += ch;
        col += 1;
        await h.change(uri, text);
        const r2 = await timed(h, uri, c.line, col);
        if (r2.a.source === 'typedThrough') typedThrough.push(r2.ms);
        else if (r2.a.source === 'generated') {
          prefixHit.push(r2.ms);
          if (r2.a.promptTokensReused !== undefined) reused.push(r2.a.promptTokensReused);
        }
        suggestion = r2.suggestion;
      }
    }
  } finally {
    await h.close();
  }
  return {
    contextBudget: budget,
    promptTokens: { p50: pct(promptTokens, 50), max: promptTokens.length ? Math.max(...promptTokens) : null },
    promptTokensReusedOnPrefixHit: { p50: pct(reused, 50) },
    modelLoadMs: Math.round(loadMs),
    coldMs: summary(cold),
    prefixHitMs: summary(prefixHit),
    typedThroughMs: summary(typedThrough),
    targetPrefixHitP50Under150Ms: (pct(prefixHit, 50) ?? Infinity) < 150,
  };
}

const results = [];
for (const b of BUDGETS) {
  process.stderr.write(`bench:lsp: ${quant}, contextBudget ${b}...\n`);
  results.push(await benchBudget(b));
}
console.log(
  JSON.stringify(
    {
      bench: 'lsp',
      model: 'models/neox-code-23m (default)',
      quantization: quant,
      maxTokens: 16,
      measured: 'client request -> response over stdio, ms',
      samplesPerKind: SAMPLES,
      results,
    },
    null,
    2,
  ),
);
