/**
 * POST /v1/embeddings of `neox serve`, as OpenAI and vLLM define it: `input` is a string, a list of
 * strings, a list of token ids or a list of such lists; `encoding_format` "float" (default) or
 * "base64" (little-endian float32, as the OpenAI clients decode it). Vectors are the backend's
 * defaults for a search index: the last hidden state, mean-pooled, L2-normalised (OpenAI's are unit
 * length too); `layer`, `pooling` and `normalize` are this server's extensions to change that.
 * Admission, auth and errors are the generation routes' (routes.ts).
 */
import type * as http from 'node:http';
import { NeoxError, type EmbedInput, type EmbedOptions } from '../types';
import { sendJson, type RequestRecord, type ServeContext } from './context';
import { HttpError } from './wire';

/** OpenAI's own limit on inputs per request. */
export const MAX_EMBED_INPUTS = 2048;

type Json = Record<string, unknown>;

export interface EmbeddingsRequest {
  inputs: EmbedInput[];
  base64: boolean;
  options: EmbedOptions;
}

function bad(param: string, why: string): never {
  throw new HttpError(400, `"${param}" ${why}`, 'invalid_request_error', param);
}

const isIds = (x: unknown): x is number[] => Array.isArray(x) && x.length > 0 && x.every((v) => typeof v === 'number');

/** The inputs of a request body, each checked; errors name the input by its index. */
export function parseEmbedInputs(body: Json, maxChars: number): EmbedInput[] {
  const input = body.input;
  let inputs: unknown[];
  if (typeof input === 'string' || isIds(input)) inputs = [input];
  else if (Array.isArray(input) && input.length > 0) inputs = input;
  else return bad('input', 'is required: a string, a list of strings, a list of token ids or a list of such lists');
  if (inputs.length > MAX_EMBED_INPUTS) bad('input', `has ${inputs.length} items; at most ${MAX_EMBED_INPUTS} per request`);
  return inputs.map((x, i) => {
    const name = inputs.length === 1 && x === input ? 'input' : `input[${i}]`;
    if (typeof x === 'string') {
      if (!x) bad(name, 'is empty');
      // As for prompts: refused by length before anything is tokenized.
      if (x.length > maxChars) bad(name, `is ${x.length} characters; this server takes at most ${maxChars} per input`);
      return x;
    }
    if (!isIds(x)) bad(name, 'must be a non-empty string or a non-empty list of token ids');
    return x;
  });
}

export function parseEmbeddings(body: Json, maxChars: number): EmbeddingsRequest {
  const inputs = parseEmbedInputs(body, maxChars);
  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') bad('encoding_format', `must be "float" or "base64" (got ${JSON.stringify(format)})`);
  if (body.dimensions !== undefined && body.dimensions !== null) bad('dimensions', 'is not supported: the vector has the model\'s hidden size');
  const { layer, pooling, normalize } = body;
  if (layer !== undefined && (typeof layer !== 'number' || !Number.isInteger(layer))) bad('layer', 'must be an integer (0 = token embeddings, the block count = after the final layer norm)');
  if (pooling !== undefined && pooling !== 'mean' && pooling !== 'last') bad('pooling', 'must be "mean" or "last"');
  if (normalize !== undefined && typeof normalize !== 'boolean') bad('normalize', 'must be true or false');
  return {
    inputs,
    base64: format === 'base64',
    options: { layer: layer as number | undefined, pooling: pooling as EmbedOptions['pooling'], normalize: normalize !== false },
  };
}

/** A vector as OpenAI's base64 encoding: the float32 values' little-endian bytes. */
export function toBase64(v: number[]): string {
  const f = Float32Array.from(v);
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64');
}

/** Computes and sends the embeddings of an admitted request (its slot is held by the caller). */
export async function sendEmbeddings(ctx: ServeContext, request: EmbeddingsRequest, res: http.ServerResponse, gone: AbortSignal, rec: RequestRecord): Promise<void> {
  const { backend, model } = ctx;
  if (!backend.embed || !model.canEmbed) throw new HttpError(400, `the model \`${model.id}\` served here cannot embed`, 'invalid_request_error', 'input');
  let vectors: number[][];
  try {
    vectors = await backend.embed(request.inputs, { ...request.options, signal: gone });
  } catch (e) {
    if (gone.aborted) {
      rec.status = 499;
      rec.error = 'client closed the connection while embedding';
      ctx.counters.cancelled++;
      return;
    }
    // The engine's input errors (a text longer than the context, a bad token id, a bad layer) are the client's.
    if (e instanceof NeoxError && ['bad_request', 'context_exceeded'].includes(e.code)) throw new HttpError(400, e.message, 'invalid_request_error', 'input');
    throw e;
  }
  let tokens = 0;
  for (const x of request.inputs) tokens += typeof x === 'string' ? await backend.countTokens(x) : x.length;
  ctx.counters.completed++;
  sendJson(ctx, res, 200, {
    object: 'list',
    data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: request.base64 ? toBase64(v) : v })),
    model: model.id,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
}
