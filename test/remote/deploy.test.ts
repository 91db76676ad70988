// deploy/: the compose files parse as YAML and say what the guide says (no docker engine here,
// so structure is checked: engine flags, GPU reservations matching the parallelism, key required).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const deploy = (f: string) => fileURLToPath(new URL(`../../deploy/${f}`, import.meta.url));

interface Service {
  image: string;
  command: string[];
  environment: Record<string, string>;
  ports: string[];
  deploy: { resources: { reservations: { devices: { driver: string; count: number; capabilities: string[] }[] } } };
  ipc?: string;
  shm_size?: string;
}

function service(file: string, name: string): Service {
  const doc = parse(readFileSync(deploy(file), 'utf8'), { strict: true, uniqueKeys: true }) as { services: Record<string, Service> };
  assert.ok(doc.services?.[name], `${file} defines service "${name}"`);
  return doc.services[name];
}

for (const gpus of [2, 4]) {
  test(`vllm-tp${gpus}: tensor parallel ${gpus}, ${gpus} GPUs reserved, fp16, key required`, () => {
    const s = service(`vllm-tp${gpus}.compose.yml`, 'vllm');
    assert.match(s.image, /vllm\/vllm-openai:v\d/);
    assert.ok(s.command.includes('--model=EleutherAI/gpt-neox-20b'));
    assert.ok(s.command.includes(`--tensor-parallel-size=${gpus}`));
    assert.ok(s.command.includes('--dtype=float16'));
    assert.ok(s.command.includes('--max-model-len=2048'));
    const dev = s.deploy.resources.reservations.devices[0];
    assert.deepEqual([dev.driver, dev.count, dev.capabilities], ['nvidia', gpus, ['gpu']]);
    assert.match(s.environment.VLLM_API_KEY, /^\$\{NEOX_API_KEY:\?/);
    assert.deepEqual(s.ports, ['8000:8000']);
    assert.equal(s.ipc, 'host');
  });

  test(`tgi-shard${gpus}: num-shard ${gpus}, ${gpus} GPUs reserved, context limits, shm`, () => {
    const s = service(`tgi-shard${gpus}.compose.yml`, 'tgi');
    assert.match(s.image, /text-generation-inference:\d/);
    assert.ok(s.command.includes('--model-id=EleutherAI/gpt-neox-20b'));
    assert.ok(s.command.includes(`--num-shard=${gpus}`));
    assert.ok(s.command.includes('--max-total-tokens=2048'));
    const input = Number(s.command.find((c) => c.startsWith('--max-input-tokens='))!.split('=')[1]);
    assert.ok(input < 2048);
    assert.equal(s.deploy.resources.reservations.devices[0].count, gpus);
    assert.match(s.environment.API_KEY, /^\$\{NEOX_API_KEY:\?/);
    assert.deepEqual(s.ports, ['8080:80']);
    assert.equal(s.shm_size, '1g');
  });
}

test('the guide names every compose file and the memory figures follow from the model sizes', () => {
  const guide = readFileSync(deploy('README.md'), 'utf8');
  for (const f of ['vllm-tp2.compose.yml', 'vllm-tp4.compose.yml', 'tgi-shard2.compose.yml', 'tgi-shard4.compose.yml']) assert.ok(guide.includes(f), f);
  // 20.6e9 params * 2 bytes; KV per token = 2 * 44 layers * 6144 hidden * 2 bytes.
  assert.ok(guide.includes(`${((20.6e9 * 2) / 1e9).toFixed(1)} GB of fp16 weights`));
  assert.ok(guide.includes(`${((2 * 44 * 6144 * 2) / 1e6).toFixed(2)} MB per token`));
  assert.ok(guide.includes(`${((20.6e9 * 2) / 2 / 1e9).toFixed(1)} GB`) && guide.includes(`${((20.6e9 * 2) / 4 / 1e9).toFixed(1)} GB`));
});
