// The model picker's LoRA adapter rows (client/commands/model-row.ts): "No adapter" first, then each
// adapter the server lists, the chosen one checked, a broken one flagged; each row says what choosing it
// sets neoxComplete.adapter to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adapterPickRows } from '../../client/commands/model-row';

test('adapter rows: none first, the current one checked, a broken one flagged with its problem', () => {
  const rows = adapterPickRows([
    { path: '/lora/style', name: 'style', description: 'LoRA r=8, lora_alpha 16 on query_key_value', current: true },
    { path: '/lora/old', name: 'old', description: 'Missing /lora/old/adapter_model.safetensors', problem: true, current: false },
  ]);
  assert.deepEqual(rows, [
    { label: 'No adapter', description: '', detail: 'The model as it is', adapter: '' },
    { label: '$(check) style', description: 'LoRA · current', detail: 'LoRA r=8, lora_alpha 16 on query_key_value · /lora/style', adapter: '/lora/style' },
    { label: '$(warning) old', description: 'LoRA', detail: 'Missing /lora/old/adapter_model.safetensors · /lora/old', adapter: '/lora/old' },
  ]);
  // None chosen: "No adapter" is the current row.
  const none = adapterPickRows([{ path: '/lora/style', name: 'style', description: 'LoRA r=8', current: false }]);
  assert.deepEqual(none[0], { label: '$(check) No adapter', description: 'current', detail: 'The model as it is', adapter: '' });
  assert.equal(adapterPickRows([]).length, 1, 'nothing to choose from but none');
});
