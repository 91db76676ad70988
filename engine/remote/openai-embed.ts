/**
 * Embeddings from an OpenAI-compatible server's POST /v1/embeddings (vLLM serving an embedding
 * model, `neox serve`, OpenAI itself). The server decides the layer and pooling, so a request for a
 * particular layer or pooling is refused here rather than silently answered with something else;
 * normalisation is done on this side. Inputs go in batches of EMBED_REQUEST_INPUTS per request.
 */
import { redactUrl } from '../redact';
import { NeoxError, type EmbedInput, type EmbedOptions } from '../types';
import type { HttpClient } from './http';

export const EMBED_REQUEST_INPUTS = 64;

interface EmbeddingsAnswer {
  data?: { index?: number; embedding?: unknown }[];
}

export async function embedRemote(http: HttpClient, url: URL, model: string, inputs: EmbedInput[], opts: EmbedOptions = {}): Promise<number[][]> {
  if (opts.layer !== undefined || opts.pooling !== undefined) {
    throw new NeoxError(`embed: ${redactUrl(url)} chooses the layer and pooling itself; leave "layer" and "pooling" unset for a remote server`, 'unsupported');
  }
  const out: number[][] = [];
  for (let i = 0; i < inputs.length; i += EMBED_REQUEST_INPUTS) {
    if (opts.signal?.aborted) throw new NeoxError('embed: cancelled', 'cancelled');
    const batch = inputs.slice(i, i + EMBED_REQUEST_INPUTS);
    const answer = await http.json<EmbeddingsAnswer>('POST', url, { model, input: batch, encoding_format: 'float' }, opts.signal);
    out.push(...readVectors(answer, batch.length, url));
  }
  const dims = out[0]?.length;
  if (out.some((v) => v.length !== dims)) throw new NeoxError(`${redactUrl(url)} answered vectors of different lengths`, 'bad_response');
  return opts.normalize ? out.map(unit) : out;
}

/** The vectors of one answer in input order; anything malformed is named. */
function readVectors(answer: EmbeddingsAnswer, count: number, url: URL): number[][] {
  const data = answer?.data;
  if (!Array.isArray(data) || data.length !== count) {
    throw new NeoxError(`${redactUrl(url)} answered ${Array.isArray(data) ? `${data.length} embeddings for ${count} inputs` : `without "data": ${JSON.stringify(answer).slice(0, 200)}`}`, 'bad_response');
  }
  const vectors: number[][] = new Array(count);
  data.forEach((d, k) => {
    const at = d?.index ?? k;
    const v = d?.embedding;
    if (!Number.isInteger(at) || at < 0 || at >= count || vectors[at]) throw new NeoxError(`${redactUrl(url)} answered a bad embedding index ${JSON.stringify(d?.index)}`, 'bad_response');
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new NeoxError(`${redactUrl(url)} answered embedding ${at} that is not a list of numbers`, 'bad_response');
    }
    vectors[at] = v as number[];
  });
  return vectors;
}

function unit(v: number[]): number[] {
  const n = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
  return n > 0 ? v.map((x) => x / n) : v;
}
