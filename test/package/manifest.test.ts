/** package.json's contributed settings are generated from the one settings table (protocol/settings.ts). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { REMOTE_DEFAULTS } from '../../engine/remote/settings';
import { BACKEND_KINDS, QUANTIZATIONS } from '../../engine/types';
import { INLINE_ACCEPTED_COMMAND } from '../../protocol/index';
import { contributedConfiguration, defaultSettings, SETTINGS } from '../../protocol/settings';
import { resolveSettings } from '../../server/settings';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));

test('package.json contributes.configuration is the one generated from the settings table (run scripts/apply-manifest.mjs after changing it)', () => {
  assert.deepEqual(pkg.contributes.configuration, contributedConfiguration());
});

test('every setting of the table is contributed with its default, and only those', () => {
  const props = pkg.contributes.configuration.properties as Record<string, { default: unknown }>;
  assert.deepEqual(Object.keys(props).sort(), Object.keys(SETTINGS).map((k) => `neoxComplete.${k}`).sort());
  for (const [key, value] of Object.entries(defaultSettings())) assert.deepEqual(props[`neoxComplete.${key}`]!.default, value, key);
});

test('the server resolves an empty configuration to the table defaults; enums and remote timeouts are the engine facts', () => {
  assert.deepEqual(resolveSettings(undefined).settings, defaultSettings());
  assert.deepEqual(SETTINGS.backend.values, BACKEND_KINDS);
  assert.deepEqual(SETTINGS.quantization.values, QUANTIZATIONS);
  assert.equal(SETTINGS.remoteConnectTimeoutMs.default, REMOTE_DEFAULTS.connectTimeoutMs);
  assert.equal(SETTINGS.remoteFirstTokenTimeoutMs.default, REMOTE_DEFAULTS.firstTokenTimeoutMs);
});

test('the server clamps numbers to the table bounds and replaces values outside an enum', () => {
  const { settings, problems } = resolveSettings({ candidates: 20, maxTokens: -3, maxLines: 2.7, debounceMs: 5000, quantization: 'int2' });
  assert.equal(settings.candidates, SETTINGS.candidates.maximum);
  assert.equal(settings.maxTokens, SETTINGS.maxTokens.minimum);
  assert.equal(settings.maxLines, 2);
  assert.equal(settings.debounceMs, SETTINGS.debounceMs.maximum);
  assert.equal(settings.quantization, SETTINGS.quantization.default);
  assert.deepEqual(problems, ['neoxComplete.quantization: "int2" is not valid, using "int8"']);
});

test('the inline accept command is contributed (hidden from the palette) under the protocol name', () => {
  assert.ok((pkg.contributes.commands as { command: string }[]).some((c) => c.command === INLINE_ACCEPTED_COMMAND));
  assert.ok((pkg.contributes.menus.commandPalette as { command: string; when: string }[]).some((c) => c.command === INLINE_ACCEPTED_COMMAND && c.when === 'false'));
});
