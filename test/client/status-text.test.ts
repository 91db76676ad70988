// What the status bar item and the load-progress notification say: the model's name (never its path),
// its precision and backend, and progress messages without the long folder paths that cut them off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StatusParams } from '../../protocol/index';
import { modelDisplayName, progressTitle, shortenPaths, statusText } from '../../client/status-text';

const DIR = '/root/.vscode-server/extensions/neox-complete.neox-complete-linux-x64-0.1.0/models/neox-code-23m';
const local: StatusParams = { state: 'ready', backend: 'local', model: DIR, modelName: 'neox-code-23m', quantization: 'int8', lastLatencyMs: 41.6 };

test('the status text names the model, its precision and backend, the state and the latency', () => {
  assert.equal(statusText(local, false), '$(sparkle) NeoX: neox-code-23m (int8, local) · ready · 42 ms');
  assert.equal(statusText({ ...local, quantization: 'int4', state: 'loading', lastLatencyMs: undefined }, false), '$(loading~spin) NeoX: neox-code-23m (int4, local) · loading');
});

test('a remote backend shows its model id and backend, no precision', () => {
  const remote: StatusParams = { state: 'ready', backend: 'openai', model: 'EleutherAI/gpt-neox-20b', modelName: 'EleutherAI/gpt-neox-20b' };
  assert.equal(statusText(remote, false), '$(sparkle) NeoX: EleutherAI/gpt-neox-20b (openai) · ready');
});

test('in error the latency of the previous model is left out; snoozing does not hide an error', () => {
  const err: StatusParams = { ...local, state: 'error', model: '/ws/no-such-model', modelName: 'no-such-model', message: 'not found' };
  assert.equal(statusText(err, true), '$(error) NeoX: no-such-model (int8, local) · error');
  assert.equal(statusText(local, true), '$(bell-slash) NeoX snoozed');
});

test('without modelName (an older server) the name is the last segment of the path, Windows too', () => {
  assert.equal(modelDisplayName({ model: DIR }), 'neox-code-23m');
  assert.equal(modelDisplayName({ model: 'C:\\models\\pythia-1.4b\\' }), 'pythia-1.4b');
  assert.equal(modelDisplayName({ model: '' }), '');
});

test('the progress title names the model and precision, not the folder', () => {
  assert.equal(progressTitle({ model: DIR, modelName: 'neox-code-23m', quantization: 'int4' }), 'NeoX Complete: loading neox-code-23m (int4)');
  assert.equal(progressTitle({ model: '' }), 'NeoX Complete: loading model');
});

test('progress messages from the engine lose their paths', () => {
  const s = { model: DIR, modelName: 'neox-code-23m' };
  const cache = '/root/.local/share/code-server/User/globalStorage/neox-complete.neox-complete/neox-code-23m-int4-b32-0123456789abcdef';
  assert.equal(shortenPaths(`Reading ${DIR}`, s), 'Reading neox-code-23m');
  assert.equal(shortenPaths(`Converting ${DIR} (int4-b32) into ${cache}`, s), 'Converting neox-code-23m (int4-b32)');
  assert.equal(shortenPaths(`Loading ${cache}/model.onnx (2 threads)`, s), 'Loading model.onnx (2 threads)');
  assert.equal(shortenPaths('layer 3/8', s), 'layer 3/8', 'a fraction is not a path');
  assert.equal(shortenPaths('int4 quantization on 2 threads', s), 'int4 quantization on 2 threads');
});
