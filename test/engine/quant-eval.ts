// Shared by the quantization quality tests (not a test file itself): perplexity of a runner over
// test/fixtures/code-eval.jsonl exactly as the fp32 reference counts it (first 1024 tokens of each
// file, nll summed over the n = tokens - 1 predicted tokens), and greedy continuations.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { Tokenizer } from '@huggingface/tokenizers';
import type { ModelRunner } from '../../engine/local/runner';
import { GraphBuilder } from '../../engine/local/onnx/graph';
import { DataType } from '../../engine/local/onnx/onnx-proto';

export const MODEL_DIR = fileURLToPath(new URL('../../models/neox-code-23m', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../fixtures', import.meta.url));

export interface Reference {
  greedy: { prompt: string; input_ids: number[]; greedy_ids: number[] }[];
  eval_ppl: { tokens: number; ppl: number; per_file: { path: string; n: number; nll: number; index: number }[] };
}
export const reference: Reference = JSON.parse(readFileSync(`${FIXTURES}/neox-code-23m-reference.json`, 'utf8'));

/** Token ids of the first 1024 tokens of every code-eval.jsonl file, in file order. */
export function evalTokens(): number[][] {
  const tok = new Tokenizer(JSON.parse(readFileSync(`${MODEL_DIR}/tokenizer.json`, 'utf8')), {});
  return readFileSync(`${FIXTURES}/code-eval.jsonl`, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => tok.encode(JSON.parse(l).text, { add_special_tokens: false }).ids.slice(0, 1024));
}

/**
 * log_softmax + gather of the target logit, as a one-off onnxruntime session: 50k-wide log-sum-exp
 * over 74k positions is 3.7e9 exps, ~40 s in JS Math.exp and well under a second vectorised.
 * The logits go in as a view (onnxruntime-node does not copy inputs).
 */
let nllSession: Promise<ort.InferenceSession> | undefined;
function getNllSession(): Promise<ort.InferenceSession> {
  nllSession ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'neox-nll-'));
    try {
      const g = new GraphBuilder(join(dir, 'nll.data'));
      g.input({ name: 'logits', elemType: DataType.FLOAT, shape: ['T', 'V'] });
      g.input({ name: 'targets', elemType: DataType.INT64, shape: ['T', 1] });
      const lp = g.op('LogSoftmax', ['logits'], { axis: 1 });
      g.node('GatherElements', [lp, 'targets'], ['logprob'], { axis: 1 });
      g.output({ name: 'logprob', elemType: DataType.FLOAT, shape: ['T', 1] });
      g.finish(join(dir, 'nll.onnx'));
      return await ort.InferenceSession.create(join(dir, 'nll.onnx'), { intraOpNumThreads: 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  return nllSession;
}

/** Sum of -log p(token[i+1] | tokens[..i]) over one sequence, from all-position logits [T, V]. */
async function sequenceNll(logits: Float32Array, ids: number[], V: number): Promise<number> {
  const T = ids.length - 1;
  const s = await getNllSession();
  const targets = BigInt64Array.from(ids.slice(1), BigInt);
  const out = await s.run({
    logits: new ort.Tensor('float32', logits.subarray(0, T * V), [T, V]),
    targets: new ort.Tensor('int64', targets, [T, 1]),
  });
  let nll = 0;
  for (const lp of out.logprob.data as Float32Array) nll -= lp;
  return nll;
}

/** Perplexity over all files (exp of total nll / total predicted tokens). */
export async function perplexity(runner: ModelRunner, files: number[][]): Promise<{ ppl: number; tokens: number; perFile: number[] }> {
  let nll = 0;
  let tokens = 0;
  const perFile: number[] = [];
  for (const ids of files) {
    if (ids.length < 2) {
      perFile.push(0);
      continue;
    }
    runner.reset(1);
    const [logits] = await runner.forward([ids], { allLogits: true });
    const f = await sequenceNll(logits, ids, runner.info.vocabSize);
    perFile.push(f);
    nll += f;
    tokens += ids.length - 1;
  }
  return { ppl: Math.exp(nll / tokens), tokens, perFile };
}

/** Greedy continuation of `ids` for `steps` tokens (stops at EOS like the reference). */
export async function greedy(runner: ModelRunner, ids: number[], steps: number): Promise<number[]> {
  runner.reset(1);
  const out: number[] = [];
  let [logits] = await runner.forward([ids]);
  for (let s = 0; s < steps; s++) {
    let best = 0;
    for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
    out.push(best);
    if (best === runner.info.eosTokenId) break;
    [logits] = await runner.forward([[best]]);
  }
  return out;
}
