// Related code from the workspace index in the completion prompt (PromptBuilder with a RelatedCode
// source): after the open files' snippets, not from a file they already quote, within the snippets'
// quarter of the budget, asked once per 16-line region so the prompt stays put while typing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PromptBuilder, type Snippet } from '../../server/context/prompt';
import { SnippetRing } from '../../server/context/snippet-ring';

const count = async (t: string) => Math.ceil(t.length / 4);

function related(found: Snippet[]) {
  const queries: string[] = [];
  return { queries, source: async (_uri: string, query: string) => (queries.push(query), found) };
}

test('related chunks follow the ring snippets, skip files the ring already quotes, and stay for the region', async () => {
  const ring = new SnippetRing();
  ring.addDocument('file:///geo.py', 'lib/geometry.py', 'def rectangle_area(width, height):\n    return width * height\n');
  const r = related([
    { id: 'index:lib/geometry.py#0', path: 'lib/geometry.py', text: 'def rectangle_area(w, h): ...' },
    { id: 'index:app/billing.py#10', path: 'app/billing.py', text: 'def invoice_total(lines):\n    return sum(l.amount for l in lines)' },
    { id: 'index:app/tax.py#0', path: 'app/tax.py', text: 'def vat(amount):\n    return amount * 0.19' },
  ]);
  const b = new PromptBuilder(count, ring, r.source);
  const text = 'width = 3\nheight = 4\ntotal = invoice_total(lines) + rectangle_area(';
  const build = (t: string) => b.build({ uri: 'file:///main.py', path: 'main.py', languageId: 'python', text: t, offset: t.length, budget: 1000, crossFile: true });
  const p = await build(text);
  assert.deepEqual(p.snippetIds, ['file:///geo.py#0', 'index:app/billing.py#10', 'index:app/tax.py#0']);
  const ringAt = p.prompt.indexOf('# Compare this snippet from lib/geometry.py:');
  const relatedAt = p.prompt.indexOf('# Compare this snippet from app/billing.py:\n# def invoice_total(lines):');
  assert.ok(ringAt > 0 && relatedAt > ringAt, 'ring snippet first, then related code');
  assert.equal(r.queries.length, 1);
  assert.ok(r.queries[0]!.endsWith('rectangle_area(') && r.queries[0]!.length <= 600, 'the query is the code just before the cursor');
  // Typing on in the same region: same snippets, the index is not asked again.
  const p2 = await build(text + 'width, ');
  assert.deepEqual(p2.snippetIds, p.snippetIds);
  assert.equal(r.queries.length, 1);
  // Without cross-file context: neither kind.
  const off = await b.build({ uri: 'file:///x.py', path: 'x.py', languageId: 'python', text, offset: text.length, budget: 1000, crossFile: false });
  assert.deepEqual(off.snippetIds, []);
});

test('related chunks that do not fit the snippet quarter of the budget are left out', async () => {
  const big = { id: 'index:a.py#0', path: 'a.py', text: 'x = 1\n'.repeat(200) };
  const small = { id: 'index:b.py#0', path: 'b.py', text: 'def helper():\n    return 2' };
  const b = new PromptBuilder(count, new SnippetRing(), related([big, small]).source);
  const text = 'value = helper(';
  const p = await b.build({ uri: 'file:///m.py', path: 'm.py', languageId: 'python', text, offset: text.length, budget: 400, crossFile: true });
  assert.deepEqual(p.snippetIds, ['index:b.py#0']);
  assert.ok(p.tokens <= 400);
});
