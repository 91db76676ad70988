// What the editor shows of the workspace index: the status bar's badge and tooltip line, the search
// quick pick's rows, and the sources a chat answer keeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IndexStatus, StatusParams } from '../../protocol/index';
import { answerInfo } from '../../client/chat/conversation';
import { indexBadge, indexLine, resultRow } from '../../client/index-text';
import { statusText } from '../../client/status-text';

const index = (patch: Partial<IndexStatus>): IndexStatus => ({ state: 'ready', filesDone: 0, filesTotal: 0, files: 154, chunks: 248, ...patch });

test('the status bar item shows indexing progress and a pause; nothing once ready or off', () => {
  const s: StatusParams = { state: 'ready', backend: 'local', model: 'm', modelName: 'neox-code-23m', quantization: 'int8' };
  assert.equal(statusText({ ...s, index: index({ state: 'indexing', filesDone: 40, filesTotal: 154 }) }, false), '$(sparkle) NeoX: neox-code-23m (int8, local) · ready · $(database) 25%');
  assert.equal(indexBadge(index({ state: 'paused' })), ' · $(debug-pause) index');
  assert.equal(indexBadge(index({ state: 'scanning' })), ' · $(database) …');
  assert.equal(indexBadge(index({ state: 'ready' })), '');
  assert.equal(indexBadge(index({ state: 'off', message: 'no workspace folder is open' })), '');
  assert.equal(indexBadge(undefined), '');
});

test('the tooltip line says the state, the size, and why it is off or failed', () => {
  assert.equal(indexLine(index({})), 'Workspace index: ready (154 files, 248 chunks)');
  assert.equal(indexLine(index({ state: 'indexing', filesDone: 3, filesTotal: 9 })), 'Workspace index: indexing, 3 of 9 files (154 files, 248 chunks)');
  assert.equal(indexLine(index({ state: 'error', message: 'http://gpu:8000/v1/embeddings answered 404' })), 'Workspace index: error - http://gpu:8000/v1/embeddings answered 404');
  assert.equal(indexLine(undefined), undefined);
});

test('a search result row: the definition, where it is (1-based lines), its first lines on one line', () => {
  const row = resultRow({ uri: 'file:///w/src/a.ts', path: 'src/config/parse-config.ts', startLine: 12, endLine: 30, name: 'parseConfig', preview: 'export function parseConfig(\n  path: string)', score: 0.1 });
  assert.deepEqual(row, { label: '$(symbol-method) parseConfig', description: 'src/config/parse-config.ts:13-31', detail: 'export function parseConfig( path: string)' });
  assert.equal(resultRow({ uri: '', path: 'lib/x.rb', startLine: 0, endLine: 3, name: '', preview: '', score: 0 }).label, '$(symbol-method) x.rb');
});

test('a chat answer keeps its sources (and only non-empty ones)', () => {
  const sources = [{ uri: 'file:///w/a.ts', path: 'a.ts', startLine: 1, endLine: 9 }];
  assert.deepEqual(answerInfo({ formatLabel: 'Base', sources }), { format: 'Base', sources });
  assert.deepEqual(answerInfo({ format: 'base', sources: [] }), { format: 'base' });
});
