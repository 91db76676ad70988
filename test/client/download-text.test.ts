/** "NeoX: Download model"'s texts (client/commands/download-text.ts): input validation and the progress line. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { downloadDoneMessage, downloadFraction, downloadProgressMessage, formatSize, formatTimeLeft, progressIncrement, validateHubId } from '../../client/commands/download-text';

test('Hub ids: ORG/NAME and ORG/NAME@REVISION pass; anything else says what is expected', () => {
  for (const ok of ['EleutherAI/pythia-1.4b', 'databricks/dolly-v2-3b@main', 'togethercomputer/RedPajama-INCITE-Chat-3B-v1@refs/pr/1', ' EleutherAI/gpt-neox-20b ']) assert.equal(validateHubId(ok), undefined, ok);
  for (const bad of ['', 'pythia', 'a/b/c', '/abs/path', 'org/name@', 'org/na me', 'org/name@a b', '../x', 'org/name.', 'org/name@a/../b']) assert.ok(validateHubId(bad), bad);
});

test('sizes and times', () => {
  assert.equal(formatSize(512), '512 B');
  assert.equal(formatSize(620_000_000), '620 MB');
  assert.equal(formatSize(1_380_000_000), '1.38 GB');
  assert.equal(formatTimeLeft(42.4), '42 s');
  assert.equal(formatTimeLeft(185), '3 min 05 s');
  assert.equal(formatTimeLeft(4020), '1 h 07 min');
});

test('the progress line: percent, bytes, speed, time left, files, the file', () => {
  const p = { repo: 'EleutherAI/pythia-1.4b', doneBytes: 620e6, totalBytes: 1.38e9, filesDone: 3, filesTotal: 7, bytesPerSecond: 12.3e6, secondsLeft: 62 };
  assert.equal(downloadProgressMessage(p), '44% · 620 MB of 1.38 GB · 12.3 MB/s · 1 min 02 s left · 3/7 files');
  assert.equal(downloadProgressMessage(p, 'model.safetensors'), '44% · 620 MB of 1.38 GB · 12.3 MB/s · 1 min 02 s left · 3/7 files · model.safetensors');
  // Speed unknown yet, and done: no speed, no time left.
  assert.equal(downloadProgressMessage({ ...p, bytesPerSecond: 0, secondsLeft: undefined }), '44% · 620 MB of 1.38 GB · 3/7 files');
  assert.equal(downloadProgressMessage({ ...p, doneBytes: 1.38e9, filesDone: 7, secondsLeft: 0 }), '100% · 1.38 GB of 1.38 GB · 12.3 MB/s · 7/7 files');
  assert.equal(downloadFraction({ doneBytes: 0, totalBytes: 0 }), 1);
});

test('progress increments never go back and add up to 100', () => {
  let reported = 0;
  let sum = 0;
  for (const f of [0, 0.1, 0.05, 0.5, 0.5, 1, 1.2]) {
    const s = progressIncrement(reported, f);
    assert.ok(s.increment >= 0);
    sum += s.increment;
    reported = s.reported;
  }
  assert.equal(sum, 100);
});

test('the done message says whether anything was transferred', () => {
  assert.equal(downloadDoneMessage({ repo: 'a/b', revision: 'main', totalBytes: 2e9, downloadedBytes: 1e9 }), 'a/b downloaded (2.00 GB).');
  assert.equal(downloadDoneMessage({ repo: 'a/b', revision: 'v1', totalBytes: 2e9, downloadedBytes: 0 }), 'a/b@v1 already in the Hugging Face cache (2.00 GB).');
});
