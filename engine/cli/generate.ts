/**
 * `neox generate [options] "PROMPT"` streams a completion to stdout;
 * `neox generate --input prompts.jsonl --json` answers one JSON line per prompt line.
 */
import { NeoxError, type DecodingOptions } from '../types';
import type { Command, ArgValues } from './command';
import { UsageError } from './command';
import { loadBackend, modelOptions, num, readJsonl, str, writeOut } from './common';
import { validateDecodingOptions } from '../local/decoding/options';

/** Decoding defaults from the command line (each JSONL line may override them). */
function flagOptions(v: ArgValues): DecodingOptions {
  const stop = v.stop;
  return {
    maxTokens: num(v, 'max-tokens', { int: true, min: 0 }) ?? 128,
    temperature: num(v, 'temperature', { min: 0 }),
    topK: num(v, 'top-k', { int: true, min: 0 }),
    topP: num(v, 'top-p', { min: 0, max: 1 }),
    repetitionPenalty: num(v, 'repetition-penalty', { min: 0 }),
    seed: num(v, 'seed', { int: true }),
    n: num(v, 'n', { int: true, min: 1 }),
    numBeams: num(v, 'num-beams', { int: true, min: 1 }),
    lengthPenalty: num(v, 'length-penalty'),
    earlyStopping: v['early-stopping'] === true ? true : undefined,
    stop: Array.isArray(stop) && stop.length ? (stop as string[]).map(unescape) : undefined,
  };
}

/** Let `--stop '\n\n'` mean two newlines, as users type it in a shell. */
function unescape(s: string): string {
  return s.replace(/\\(n|t|\\)/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : '\\'));
}

const LINE_FIELDS: Record<string, { key: keyof DecodingOptions; kind: 'int' | 'number' }> = {
  max_tokens: { key: 'maxTokens', kind: 'int' },
  temperature: { key: 'temperature', kind: 'number' },
  top_k: { key: 'topK', kind: 'int' },
  top_p: { key: 'topP', kind: 'number' },
  num_beams: { key: 'numBeams', kind: 'int' },
  seed: { key: 'seed', kind: 'int' },
  repetition_penalty: { key: 'repetitionPenalty', kind: 'number' },
  length_penalty: { key: 'lengthPenalty', kind: 'number' },
  n: { key: 'n', kind: 'int' },
};

function lineOptions(where: string, line: Record<string, unknown>, defaults: DecodingOptions): { prompt: string; opts: DecodingOptions } {
  if (typeof line.prompt !== 'string') throw new NeoxError(`${where}: field "prompt" must be a string`, 'bad_input');
  const opts: DecodingOptions = { ...defaults };
  for (const [field, { key, kind }] of Object.entries(LINE_FIELDS)) {
    const x = line[field];
    if (x === undefined || x === null) continue;
    if (typeof x !== 'number' || !Number.isFinite(x) || (kind === 'int' && !Number.isInteger(x))) {
      throw new NeoxError(`${where}: field "${field}" must be ${kind === 'int' ? 'an integer' : 'a number'}`, 'bad_input');
    }
    (opts as unknown as Record<string, number>)[key] = x;
  }
  if (line.early_stopping !== undefined && line.early_stopping !== null) {
    if (typeof line.early_stopping !== 'boolean') throw new NeoxError(`${where}: field "early_stopping" must be true or false`, 'bad_input');
    opts.earlyStopping = line.early_stopping;
  }
  if (line.stop !== undefined && line.stop !== null) {
    const s = typeof line.stop === 'string' ? [line.stop] : line.stop;
    if (!Array.isArray(s) || s.some((x) => typeof x !== 'string' || x === '')) {
      throw new NeoxError(`${where}: field "stop" must be a string or a list of non-empty strings`, 'bad_input');
    }
    opts.stop = s as string[];
  }
  // Ranges too, before anything runs, under the names the file uses (max_tokens, not maxTokens).
  try {
    validateDecodingOptions(opts);
  } catch (e) {
    if (!(e instanceof NeoxError)) throw e;
    throw new NeoxError(`${where}: ${e.message.replace(/^decoding option "(\w+)"/, (_, k: string) => `field "${INPUT_NAME[k] ?? k}"`)}`, 'bad_input');
  }
  return { prompt: line.prompt, opts };
}

/** DecodingOptions' names as an input line spells them. */
const INPUT_NAME: Record<string, string> = {
  ...Object.fromEntries(Object.entries(LINE_FIELDS).map(([field, { key }]) => [key, field])),
  earlyStopping: 'early_stopping',
  stop: 'stop',
};

type Request = { where: string; prompt: string; opts: DecodingOptions } | { where: string; error: string };

/** Every line checked before any runs: the bad ones stop the run, or (keepGoing) become error slots. */
function parseLines(file: string, lines: { line: number; value: Record<string, unknown> }[], defaults: DecodingOptions, keepGoing: boolean): Request[] {
  const out: Request[] = lines.map((l) => {
    const where = `${file}:${l.line}`;
    try {
      return { where, ...lineOptions(where, l.value, defaults) };
    } catch (e) {
      if (!(e instanceof NeoxError)) throw e;
      return { where, error: e.message };
    }
  });
  const bad = out.filter((r): r is { where: string; error: string } => 'error' in r);
  if (bad.length && !keepGoing) {
    const more = bad.length > 1 ? ` (and ${bad.length - 1} more bad line${bad.length > 2 ? 's' : ''}: ${bad.slice(1, 6).map((b) => b.where.slice(file.length + 1)).join(', ')}${bad.length > 6 ? ', ...' : ''})` : '';
    throw new NeoxError(`${bad[0]!.error}${more}; nothing was run (--keep-going runs the good lines)`, 'bad_input');
  }
  return out;
}

/** Run one request, naming the input line if its options are rejected. */
async function withLine<T>(where: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof NeoxError && e.code === 'bad_request') throw new NeoxError(`${where}: ${e.message}`, e.code);
    throw e;
  }
}

const command: Command = {
  summary: 'complete a prompt (streamed), or every line of a JSONL file',
  usage: `neox generate [options] "PROMPT"
neox generate [options] --input prompts.jsonl --json

  --max-tokens N         tokens to generate (default 128)
  --temperature T        0 = greedy (default); > 0 samples
  --top-k K, --top-p P   sampling filters (Hugging Face semantics)
  --repetition-penalty R >1 discourages repeats
  --seed S               reproducible sampling
  --stop STR             stop before STR (repeatable; "\\n" is a newline)
  --n N                  independent samples
  --num-beams B          beam search; with --length-penalty L, --early-stopping
  --input FILE           JSONL: {"prompt", "max_tokens", "temperature", "top_k", "top_p", "num_beams", "stop", "seed"}
                         (also "repetition_penalty", "length_penalty", "early_stopping", "n"); flags give defaults
  --json                 JSON output: {"ids", "text", "finish_reason"}
  --batch N              with --input --json: run up to N consecutive lines with equal options as one batch
  --keep-going           with --input: a bad line gets {"error": {"line", "message"}} in its output slot
                         (stderr without --json) and the other lines run; exit code 1 if any failed.
                         Without it every line is checked first and a bad one stops the run before any output.`,
  options: {
    ...modelOptions,
    'max-tokens': { type: 'string' },
    temperature: { type: 'string' },
    'top-k': { type: 'string' },
    'top-p': { type: 'string' },
    'repetition-penalty': { type: 'string' },
    seed: { type: 'string' },
    stop: { type: 'string', multiple: true },
    n: { type: 'string' },
    'num-beams': { type: 'string' },
    'length-penalty': { type: 'string' },
    'early-stopping': { type: 'boolean' },
    input: { type: 'string' },
    json: { type: 'boolean' },
    batch: { type: 'string' },
    'keep-going': { type: 'boolean' },
  },
  async run({ values, positionals, signal }) {
    const defaults = flagOptions(values);
    const input = str(values, 'input');
    const json = values.json === true;
    if (input && positionals.length) throw new UsageError('give either --input FILE or a PROMPT, not both');
    if (!input && positionals.length !== 1) throw new UsageError('expected exactly one PROMPT argument (quote it), or --input FILE');
    const keepGoing = values['keep-going'] === true;
    const lines = input ? await readJsonl(input) : [];
    const requests: Request[] = input ? parseLines(input, lines, defaults, keepGoing) : [{ where: 'PROMPT', prompt: positionals[0]!, opts: defaults }];
    let failed = 0;
    const fail = async (where: string, message: string) => {
      failed++;
      const line = Number(where.slice(where.lastIndexOf(':') + 1));
      if (json) await writeOut(JSON.stringify({ error: { line, message } }) + '\n');
      else process.stderr.write(`neox: ${message}\n`);
    };
    const batch = num(values, 'batch', { int: true, min: 1, max: 64 }) ?? 1;
    const backend = await loadBackend(values);
    const print = async (choices: { tokenIds?: number[]; text: string; finishReason: string }[]) => {
      for (const c of choices) await writeOut(JSON.stringify({ ids: c.tokenIds, text: c.text, finish_reason: c.finishReason }) + '\n');
    };
    try {
      for (let i = 0; i < requests.length; ) {
        const first = requests[i]!;
        if ('error' in first) {
          await fail(first.where, first.error);
          i++;
          continue;
        }
        const { where, prompt, opts } = first;
        // --batch: consecutive lines with the same options share one batched run (one runner row each).
        const group = [first];
        const key = JSON.stringify(opts);
        while (json && batch > 1 && group.length < batch && (opts.numBeams ?? 1) === 1 && (opts.n ?? 1) === 1) {
          const next = requests[i + group.length];
          if (!next || 'error' in next || JSON.stringify(next.opts) !== key) break;
          group.push(next);
        }
        i += group.length;
        const attempt = async <T>(f: () => Promise<T>): Promise<T | undefined> => {
          try {
            return await withLine(where, f);
          } catch (e) {
            if (!keepGoing || !(e instanceof NeoxError) || signal.aborted) throw e;
            for (const g of group) await fail(g.where, e.message);
            return undefined;
          }
        };
        if (group.length > 1) {
          const res = await attempt(() => backend.completeBatch(group.map((g) => g.prompt), { ...opts, signal }));
          if (res) await print(res.choices);
          if (signal.aborted) return 130;
          continue;
        }
        const streaming = !json && (opts.n ?? 1) === 1;
        const res = await attempt(() =>
          backend.complete({ ...opts, prompt, signal }, streaming ? (c) => void process.stdout.write(c.text) : undefined),
        );
        if (!res) continue;
        if (json) await print(res.choices);
        else if (streaming) await writeOut('\n');
        else await writeOut(res.choices.map((c) => c.text).join('\n---\n') + '\n');
        if (signal.aborted) return 130;
      }
    } finally {
      await backend.dispose();
    }
    return failed ? 1 : 0;
  },
};
export default command;
