/**
 * The prompt builder and the snippet ring on huge documents (issue 12 finding 2): nothing is
 * tokenized or indexed in proportion to the document, a long line is cut at a safe point, and the
 * builder lets the event loop run between its tokenizations.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_CHARS_PER_TOKEN, PromptBuilder, safeCut } from '../../server/context/prompt';
import { MAX_CHUNK_CHARS, MAX_DOCUMENT_CHARS, SnippetRing } from '../../server/context/snippet-ring';

const MB = 1024 * 1024;
/** A crude tokenizer (one token per 4 characters) that records the longest text it was given. */
function recorder() {
  const seen = { longest: 0, calls: 0 };
  const count = async (t: string) => {
    seen.longest = Math.max(seen.longest, t.length);
    seen.calls++;
    return Math.ceil(t.length / 4);
  };
  const tokenize = async (t: string) => Array.from({ length: await count(t) }, (_, i) => i);
  return { seen, count, tokenize };
}
const oneLine = (size: number) => 'x=f(a,b);'.repeat(Math.ceil(size / 9)).slice(0, size);

for (const withTokenizer of [true, false]) {
  test(`a 5 MB single line: only a window before the cursor is tokenized (${withTokenizer ? 'tokenize' : 'countTokens'})`, async () => {
    const { seen, count, tokenize } = recorder();
    const prompts = new PromptBuilder(count, new SnippetRing());
    const text = oneLine(5 * MB);
    const budget = 1536;
    const r = { uri: 'file:///big.js', path: 'big.js', languageId: 'javascript', text, offset: text.length, budget, crossFile: true };
    const built = await prompts.build(withTokenizer ? { ...r, tokenize } : r);
    assert.ok(seen.longest <= budget * MAX_CHARS_PER_TOKEN + 200, `tokenized ${seen.longest} characters at once`);
    assert.ok(built.tokens <= budget, `${built.tokens} tokens for a budget of ${budget}`);
    assert.ok(built.prompt.endsWith(text.slice(-1000)), 'the prompt ends with the text before the cursor');
    // Cut at a safe point: just after a punctuation character of the line.
    assert.match(text[built.prefixStart - 1]!, /[;,(){}[\]\s]/);
    // The next keystroke's prompt keeps the same start (sticky) and is as cheap.
    seen.longest = 0;
    const again = await prompts.build({ ...(withTokenizer ? { ...r, tokenize } : r), text: text + 'y', offset: text.length + 1 });
    assert.equal(again.prefixStart, built.prefixStart);
    assert.ok(seen.longest <= budget * MAX_CHARS_PER_TOKEN + 200);
  });
}

test('the prompt builder yields to the event loop between tokenizations', async () => {
  const { seen, count, tokenize } = recorder();
  // Counting and tokenizing each take ~30 ms of main thread per call, like a real tokenizer on a big
  // window: a timer due meanwhile must run between two calls (with fast calls the whole build could
  // end within the timer's first millisecond, and a timer would have no reason to run).
  const busy = <A, R>(f: (a: A) => Promise<R>) => async (a: A) => {
    const until = performance.now() + 30;
    while (performance.now() < until);
    return f(a);
  };
  const prompts = new PromptBuilder(busy(count), new SnippetRing());
  const text = oneLine(2 * MB);
  let ticks = 0;
  let ticksBetween = 0;
  let lastCalls = 0;
  const timer = setInterval(() => {
    ticks++;
    if (seen.calls > lastCalls && lastCalls > 0) ticksBetween++;
    lastCalls = seen.calls;
  }, 0);
  await prompts.build({ uri: 'u', path: 'p.js', languageId: 'javascript', text, offset: text.length, budget: 1536, crossFile: false, tokenize: busy(tokenize) });
  clearInterval(timer);
  assert.ok(seen.calls >= 2, `${seen.calls} tokenizer call(s): nothing to yield between`);
  assert.ok(ticksBetween >= 1, `no timer ran between two tokenizer calls (${ticks} ran in all, ${seen.calls} calls)`);
});

test('safeCut: after punctuation or a blank nearby, never inside a surrogate pair', () => {
  assert.equal(safeCut('abc def', 1, 7), 4);
  assert.equal(safeCut('a'.repeat(200), 10, 200), 10);
  const s = 'a'.repeat(10) + '😀'.repeat(100);
  const cut = safeCut(s, 11, s.length); // 11 is the low half of the first emoji
  assert.equal(cut, 12);
  assert.equal(safeCut('abc', 0, 3), 0);
});

test('SnippetRing: a document over 1 MB is not indexed (said once in the log), chunks are bounded and equal to the lines', () => {
  const logs: string[] = [];
  const ring = new SnippetRing(48, 24, (m) => logs.push(m));
  const unit = 'function alpha() { return beta; }\n';
  const big = unit.repeat(Math.ceil((MAX_DOCUMENT_CHARS + 10) / unit.length));
  ring.addDocument('file:///big.js', 'big.js', big);
  ring.addAround('file:///big.js', 'big.js', big, 100);
  assert.equal(ring.size, 0);
  assert.equal(logs.length, 1);
  assert.match(logs[0]!, /big\.js is 1\.0 MB \(over 1\.0 MB\), not indexed/);
  // Removed (closed) and opened again: said again.
  ring.removeDocument('file:///big.js');
  ring.addDocument('file:///big.js', 'big.js', big);
  assert.equal(logs.length, 2);
  // A document that grows past the limit loses its chunks.
  const small = 'def gamma(x):\n    return delta(x)\n';
  ring.addDocument('file:///g.py', 'g.py', small);
  assert.equal(ring.size, 1);
  ring.addAround('file:///g.py', 'g.py', small + 'x = 1\n'.repeat(MAX_DOCUMENT_CHARS / 6 + 1), 0);
  assert.equal(ring.size, 0);

  // Under the limit: a chunk is exactly its lines (as split + join gave), cut to the lines that fit in MAX_CHUNK_CHARS.
  const lines = Array.from({ length: 60 }, (_, i) => (i % 7 === 3 ? '' : `line_${i} = value_${i}`));
  const text = lines.join('\n');
  ring.addAround('file:///l.py', 'l.py', text, 30);
  assert.equal(ring.get('file:///l.py#24')!.text, lines.slice(24, 48).join('\n'));
  const long = ['short_name = 1', 'x'.repeat(MAX_CHUNK_CHARS), 'after = 2'].join('\n');
  ring.addAround('file:///long.py', 'long.py', long, 0);
  assert.equal(ring.get('file:///long.py#0')!.text, 'short_name = 1');
  ring.addAround('file:///one.js', 'one.js', oneLine(MAX_CHUNK_CHARS + 1), 0);
  assert.equal(ring.get('file:///one.js#0'), undefined);
});
