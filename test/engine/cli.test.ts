/**
 * The real `neox` CLI (from sources via tsx), fp32 on the default model: JSONL generate and
 * tokenize against the reference, perplexity, info, and one-line errors for bad input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseArgsMessage, type OptionSpec } from '../../engine/cli/command';

const MODEL = 'models/neox-code-23m';
const ref = JSON.parse(readFileSync('test/fixtures/neox-code-23m-reference.json', 'utf8')) as {
  greedy: { prompt: string; greedy_ids: number[]; greedy_text: string }[];
  beam4: { prompt: string; beam4_ids: number[] }[];
  tokenizer: { text: string; ids: number[] }[];
  eval_ppl: { ppl: number; tokens: number; per_file: { index: number; n: number; nll: number }[] };
};
const work = mkdtempSync(join(tmpdir(), 'neox-cli-'));
const cacheDir = join(work, 'cache');
test.after(() => rmSync(work, { recursive: true, force: true }));

function neox(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'engine/cli/neox.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
const fp32 = ['--quant', 'fp32', '--cache-dir', cacheDir];
const lines = (s: string) => s.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

test('generate --input prompts.jsonl --json matches the reference (greedy, beam, stop) and streams a PROMPT', async () => {
  const input = join(work, 'prompts.jsonl');
  const greedy = ref.greedy.slice(0, 4);
  const stop = greedy[0]!.greedy_text.slice(20, 24); // a stop string somewhere inside the greedy continuation
  const rows = [
    ...greedy.map((g) => ({ prompt: g.prompt, max_tokens: 48 })),
    { prompt: ref.beam4[0]!.prompt, max_tokens: 24, num_beams: 4, early_stopping: true },
    { prompt: greedy[0]!.prompt, max_tokens: 48, stop: [stop] },
    { prompt: greedy[0]!.prompt, max_tokens: 5, temperature: 0.7, top_k: 50, top_p: 0.9, seed: 3 },
  ];
  writeFileSync(input, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const r = await neox(['generate', ...fp32, '--input', input, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /neox: convert/, 'build progress on stderr');
  const out = lines(r.stdout);
  assert.equal(out.length, rows.length);
  greedy.forEach((g, i) => {
    assert.deepEqual(out[i]!.ids, g.greedy_ids, `greedy line ${i + 1}`);
    assert.equal(out[i]!.finish_reason, g.greedy_ids.at(-1) === 0 ? 'eos' : 'length');
  });
  assert.deepEqual(out[4]!.ids, ref.beam4[0]!.beam4_ids);
  assert.equal(out[5]!.finish_reason, 'stop');
  assert.equal(out[5]!.text, greedy[0]!.greedy_text.slice(0, greedy[0]!.greedy_text.indexOf(stop)));
  assert.equal((out[6]!.ids as number[]).length, 5);

  // The same lines in batches of 3 (ragged prompts in one run) give the same answers.
  const b = await neox(['generate', ...fp32, '--input', input, '--json', '--batch', '3']);
  assert.equal(b.code, 0, b.stderr);
  assert.deepEqual(lines(b.stdout), out);

  const s = await neox(['generate', ...fp32, '--max-tokens', '48', greedy[0]!.prompt]);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(s.stdout, (out[0]!.text as string) + '\n');
});

test('tokenize --input texts.jsonl --json gives the reference ids for all 80 cases', async () => {
  const input = join(work, 'texts.jsonl');
  writeFileSync(input, ref.tokenizer.map((t) => JSON.stringify({ text: t.text })).join('\n') + '\n');
  const r = await neox(['tokenize', '--input', input, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lines(r.stdout).map((l) => l.ids), ref.tokenizer.map((t) => t.ids));
});

test('eval perplexity on code-eval.jsonl within 0.2% of the reference', async () => {
  const r = await neox(['eval', ...fp32, '--data', 'test/fixtures/code-eval.jsonl', '--max-tokens', '1024', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { ppl: number; tokens: number; per_file: { index: number; n: number; nll: number }[] };
  assert.equal(out.tokens, ref.eval_ppl.tokens);
  assert.equal(out.per_file.length, 100);
  const rel = Math.abs(out.ppl / ref.eval_ppl.ppl - 1);
  assert.ok(rel < 0.002, `ppl ${out.ppl} vs ${ref.eval_ppl.ppl} (${(rel * 100).toFixed(4)}%)`);
  console.log(`eval: ppl ${out.ppl.toFixed(5)} vs reference ${ref.eval_ppl.ppl.toFixed(5)} (${(rel * 100).toFixed(5)}%)`);
  assert.match(r.stderr, /eval 100\/100 files/, 'progress on stderr');
});

test('info prints the architecture and the cache location', async () => {
  const r = await neox(['info', ...fp32, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(info.vocabSize, 50304);
  assert.equal(info.contextLength, 2048);
  assert.ok(String(info.cache).startsWith(cacheDir));
});

function badModel(name: string, files: Record<string, string | null | 'dir'>): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, content] of Object.entries(files)) {
    if (content === null) copyFileSync(join(MODEL, f), join(dir, f));
    else if (content === 'dir') mkdirSync(join(dir, f));
    else writeFileSync(join(dir, f), content);
  }
  return dir;
}

test('bad model folders: one line naming the file or field, non-zero exit, no stack trace', async () => {
  const llama = JSON.stringify({ ...JSON.parse(readFileSync(join(MODEL, 'config.json'), 'utf8')), architectures: ['LlamaForCausalLM'], model_type: 'llama' });
  const cases: [string, string[], RegExp][] = [
    ['no config.json', ['generate', ...fp32, '--model', badModel('empty', { 'tokenizer.json': null }), 'x'], /empty\/config\.json not found/],
    ['missing folder', ['generate', ...fp32, '--model', join(work, 'nowhere'), 'x'], /nowhere does not exist/],
    ['Llama config', ['generate', ...fp32, '--model', badModel('llama', { 'config.json': llama, 'tokenizer.json': null }), 'x'], /config\.json: field "architectures".*LlamaForCausalLM/],
    ['tokenizer.json corrupt', ['generate', ...fp32, '--model', badModel('badtok', { 'config.json': null, 'tokenizer.json': '{"model": {"type": "BPE", "vocab": ' }), 'x'], /badtok\/tokenizer\.json: tokenizer is not valid JSON/],
    ['tokenizer.json unreadable', ['tokenize', '--model', badModel('dirtok', { 'config.json': null, 'tokenizer.json': 'dir' }), 'x'], /dirtok\/tokenizer\.json: cannot read tokenizer \(EISDIR\)/],
    ['bad flag value', ['generate', ...fp32, '--top-p', '2', 'x'], /--top-p must be a number >= 0 and <= 1 \(got "2"\)/],
    ['unknown flag', ['generate', '--bogus', 'x'], /^neox generate: unknown option --bogus; a prompt that starts with "-" goes after "--", as in: -- "--bogus" \(see neox generate --help\)$/],
    ['misspelt flag', ['generate', '--max-token', '3', 'x'], /unknown option --max-token: did you mean --max-tokens\?/],
    ['flag without its value', ['generate', 'x', '--model'], /--model needs a value/],
    ['bad JSONL field', ['generate', ...fp32, '--input', badModel('jsonl', { 'p.jsonl': '{"prompt": "a"}\n{"prompt": "b", "top_k": "ten"}\n' }) + '/p.jsonl', '--json'], /p\.jsonl:2: field "top_k" must be an integer/],
  ];
  for (const [what, args, re] of cases) {
    const r = await neox(args);
    assert.notEqual(r.code, 0, what);
    const errLines = r.stderr.split('\n').filter((l) => l && !l.startsWith('neox: '));
    assert.equal(errLines.length, 1, `${what}: one error line, got:\n${r.stderr}`);
    assert.match(errLines[0]!, re, what);
    assert.doesNotMatch(r.stderr, /^\s+at /m, `${what}: no stack trace`);
  }
});

test('parseArgsMessage: one balanced line per command-line mistake (Node\'s own text leaves a quote open)', () => {
  const options: OptionSpec = { 'max-tokens': { type: 'string' }, model: { type: 'string' }, help: { type: 'boolean', short: 'h' } };
  const msg = (args: string[]) => {
    try {
      parseArgs({ args, options, allowPositionals: true, strict: true });
    } catch (e) {
      return parseArgsMessage(e, options);
    }
    return 'no error';
  };
  const balanced = (s: string) => (s.match(/"/g) ?? []).length % 2 === 0 && (s.match(/'/g) ?? []).length % 2 === 0;
  const cases: [string[], string][] = [
    [['--bogus-flag', 'x'], 'unknown option --bogus-flag; a prompt that starts with "-" goes after "--", as in: -- "--bogus-flag"'],
    [['-x'], 'unknown option -x; a prompt that starts with "-" goes after "--", as in: -- "-x"'],
    [['--max-token', '3'], 'unknown option --max-token: did you mean --max-tokens?'],
    [['--mdoel=a'], 'unknown option --mdoel: did you mean --model?'],
    [['--model'], '--model needs a value'],
    [['--help=1'], '--help takes no value'],
  ];
  for (const [args, want] of cases) {
    const got = msg(args);
    assert.equal(got, want, args.join(' '));
    assert.ok(balanced(got), `quotes balanced: ${got}`);
  }
  assert.equal(msg(['--', '--bogus-flag']), 'no error', 'the suggested form is accepted');
});

test('generate --input: every line is checked before any runs, errors use the input names; --keep-going fills error slots', async () => {
  const dir = badModel('keepgoing', {});
  const input = join(dir, 'p.jsonl');
  writeFileSync(input, '{"prompt": "def a():", "max_tokens": 3}\n{"prompt": "def b():", "max_tokens": -1}\n{"prompt": "def c():", "max_tokens": 3, "top_p": 5}\n{"prompt": "def d():", "max_tokens": 3}\n');
  const r = await neox(['generate', ...fp32, '--input', input, '--json']);
  assert.notEqual(r.code, 0);
  assert.equal(r.stdout, '', 'nothing ran');
  assert.match(r.stderr, /p\.jsonl:2: field "max_tokens" must be an integer >= 0 \(got -1\) \(and 1 more bad line: 3\); nothing was run/);
  assert.doesNotMatch(r.stderr, /maxTokens|topP/);
  const k = await neox(['generate', ...fp32, '--input', input, '--json', '--keep-going']);
  assert.equal(k.code, 1, k.stderr);
  const out = lines(k.stdout);
  assert.equal(out.length, 4, k.stdout);
  assert.equal(typeof out[0]!.text, 'string');
  assert.deepEqual(out[1], { error: { line: 2, message: `${input}:2: field "max_tokens" must be an integer >= 0 (got -1)` } });
  assert.match(String((out[2]!.error as { message: string }).message), /p\.jsonl:3: field "top_p" must be in \(0, 1\]/);
  assert.equal(typeof out[3]!.text, 'string');
});

test('--model pointing at a file says so', async () => {
  const r = await neox(['generate', ...fp32, '--model', join(MODEL, 'config.json'), 'x']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--model \S+config\.json is a file, not a folder.*--model \S+neox-code-23m\)/);
  assert.doesNotMatch(r.stderr, /config\.json\/config\.json/);
});
