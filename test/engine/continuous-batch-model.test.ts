/**
 * Continuous batching on the real model: requests that join a running batch at different steps
 * (prompts fed in chunks beside decoding rows, rows copied for a shared prefix, n greedy samples,
 * beams, rows leaving) give the same token ids as each request alone, greedy, at fp32 and int8.
 * Each KV row owns its slots (kv-runner.ts), so the padding of a step, the rows beside it and the
 * way its prompt was split do not change a row's numbers.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalBackend, type LocalBackend } from '../../engine/local/local-backend';
import type { CompletionRequest, CompletionResult } from '../../engine/types';
import { MODEL_DIR, tempDir } from './model-helpers';

const cacheDir = tempDir('cbatch');
const backends: LocalBackend[] = [];
after(async () => {
  for (const b of backends) await b.dispose();
});

const base = 'import numpy as np\n\n\ndef normalize(rows):\n    """Scale each row to unit length."""\n';
const REQUESTS: CompletionRequest[] = [
  { prompt: 'def fibonacci(n):\n', maxTokens: 48 },
  { prompt: base, maxTokens: 24 },
  { prompt: base + '    norms = np.linalg.norm(rows, axis=1)\n', maxTokens: 16 }, // shares base with the one before
  { prompt: '// a stack of integers\nclass Stack {\n', maxTokens: 20, n: 2 },
  { prompt: 'SELECT name, email\nFROM users\n', maxTokens: 12, numBeams: 2 },
  { prompt: '#!/bin/sh\n# print the free disk space of every mounted file system\n', maxTokens: 20, stop: ['\n\n'] },
];

for (const quant of ['fp32', 'int8'] as const) {
  test(`${quant}: requests joining a running batch at different steps give their greedy ids alone`, { timeout: 300_000 }, async () => {
    const single = createLocalBackend({ modelDir: MODEL_DIR, quant, cacheDir });
    // A small step budget: prompts go in several chunks beside the decoding rows.
    const batched = createLocalBackend({ modelDir: MODEL_DIR, quant, cacheDir, maxBatch: 4, stepTokens: 24 });
    backends.push(single, batched);
    const want: CompletionResult[] = [];
    for (const r of REQUESTS) want.push(await single.complete(r));
    await batched.load();
    // Request i + 1 is sent when request i has streamed its 2nd chunk: each joins a batch mid-flight.
    // (or when it ends, if it streams less).
    const results: Promise<CompletionResult>[] = [];
    const send = (i: number) => {
      let chunks = 0;
      const next = () => i + 1 < REQUESTS.length && results[i + 1] === undefined && send(i + 1);
      results[i] = batched.complete(REQUESTS[i]!, () => ++chunks === 2 && next()).finally(next);
    };
    send(0);
    for (let i = 0; i < REQUESTS.length; i++) await results[i];
    const got = await Promise.all(results);
    got.forEach((g, i) =>
      assert.deepEqual(
        g.choices.map((c) => [c.tokenIds, c.finishReason]),
        want[i]!.choices.map((c) => [c.tokenIds, c.finishReason]),
        `request ${i}: ${JSON.stringify(REQUESTS[i]!.prompt.slice(0, 30))}`,
      ),
    );
    assert.ok(got[2]!.timings!.promptTokensReused! > 0, 'the request sharing a prefix started from a copied row');
  });
}
