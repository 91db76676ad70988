// The statistics page renders as real tables (markdown-it: the renderer VS Code's Markdown preview
// uses), and the model picker labels models by name, with the path only as detail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import MarkdownIt from 'markdown-it';
import type { StatisticsResult } from '../../protocol/index';
import { statisticsMarkdown } from '../../client/commands/statistics-markdown';
import { modelPickRow } from '../../client/commands/model-row';

const stats: StatisticsResult = {
  shown: 8, accepted: 3, partiallyAccepted: 2, dismissed: 4, requests: 12, cacheHits: 5, typedThroughHits: 1,
  latencyMs: { p50: 51.4, p90: 120.2, p95: 150, p99: 201.7, count: 9 },
};

/** Rows of every rendered table, each row its cells' text. */
function tables(html: string): string[][][] {
  return [...html.matchAll(/<table>([\s\S]*?)<\/table>/g)].map(([, t]) =>
    [...t.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map(([, r]) => [...r.matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map(([, c]) => c.trim())),
  );
}

test('the statistics render as two tables with headers, counts, the acceptance rate and latencies', () => {
  const [counts, latency] = tables(new MarkdownIt().render(statisticsMarkdown(stats)));
  assert.deepEqual(counts[0], ['Completions', 'Count']);
  const value = (label: string) => counts.find((r) => r[0] === label)?.[1];
  assert.equal(value('Requests'), '12');
  assert.equal(value('Accepted'), '3');
  assert.equal(value('Partially accepted'), '2');
  assert.equal(value('Dismissed'), '4');
  assert.equal(value('Acceptance rate'), '37.5 %');
  assert.deepEqual(latency, [
    ['Latency (9 completions)', 'p50', 'p90', 'p95', 'p99'],
    ['Request to suggestion', '51 ms', '120 ms', '150 ms', '202 ms'],
  ]);
});

test('no completions yet: rate n/a and no made-up latencies', () => {
  const empty = { ...stats, shown: 0, accepted: 0, latencyMs: { p50: 0, p90: 0, p95: 0, p99: 0, count: 0 } };
  const [counts, latency] = tables(new MarkdownIt().render(statisticsMarkdown(empty)));
  assert.equal(counts.find((r) => r[0] === 'Acceptance rate')?.[1], 'n/a');
  assert.deepEqual(latency[1].slice(1), ['–', '–', '–', '–']);
});

test('the picker labels a model by name; the path is only the detail', () => {
  const dir = '/home/me/models/pythia-1.4b';
  const row = modelPickRow({ id: dir, backend: 'local', name: 'pythia-1.4b', location: dir, current: true });
  assert.equal(row.label, '$(check) pythia-1.4b');
  assert.equal(row.description, 'local · current');
  assert.equal(row.detail, dir);
});

test('the embedded model is named, marked built in, and its internal folder is not shown', () => {
  const dir = '/root/.local/share/code-server/extensions/neox-complete.neox-complete-linux-x64-0.1.0/models/neox-code-23m';
  const row = modelPickRow({ id: dir, backend: 'local', name: 'neox-code-23m', location: dir, embedded: true });
  assert.equal(row.label, 'neox-code-23m');
  assert.equal(row.description, 'local · built in');
  assert.ok(!`${row.label} ${row.description} ${row.detail}`.includes('/'), JSON.stringify(row));
});

test('an older server without names: local ids are named by their folder, remote ids as they are', () => {
  assert.equal(modelPickRow({ id: 'C:\\models\\dolly-v2-3b', backend: 'local' }).label, 'dolly-v2-3b');
  assert.equal(modelPickRow({ id: 'EleutherAI/gpt-neox-20b', backend: 'tgi', description: 'http://gpu:8080' }).label, 'EleutherAI/gpt-neox-20b');
});
