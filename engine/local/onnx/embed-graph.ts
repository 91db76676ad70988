/**
 * The embedding graph: derived from a built model.onnx (neox-graph.ts) without touching it, so the
 * generation graph and its speed stay as they are. It shares the build's weights: its initializers
 * are the same external-data references into model.data, so no weight is written twice on disk
 * (onnxruntime still loads them into a second session's memory when it is opened).
 *
 * Inputs:  input_ids, position_ids [B,T] int64; attention_bias [B,1,T,C] float and
 *          kv_write_index (a forward on an empty cache: past_key_i / past_value_i stay as inputs
 *          and are fed zeros [B,H,C,hs]);
 *          pool_weights [B,T] float (how each position counts in the row's vector: 1/n on a
 *          row's n tokens for mean pooling, one-hot on its last token for last-token pooling, 0 on
 *          padding).
 * Outputs: embedding_k [B,D] for k = 0..numLayers, numbered as transformers' output_hidden_states:
 *          0 = token embeddings, k = output of block k, numLayers = after final_layer_norm (which
 *          the generation graph applies only to the positions whose logits are wanted; here it
 *          runs on every position). Each is pool_weights x hidden_states_k.
 *
 * The residual stream is found by structure, which every build since BUILDER_VERSION 1 has:
 * hidden_states_l (l < numLayers) is the input of block l's input LayerNormalization (its scale is
 * the initializer `layers.l.input_layernorm.weight`), and the last block's output is what the
 * Reshape before the `logits_index` Gather reads. The head (logits, target_logprob) and everything
 * only it needs are pruned, and so are the inputs nothing reads any more.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onnxModelType, DataType } from './onnx-proto';

/** Bump when the derivation changes: the file name carries it, so older derived graphs are not reused. */
const EMBED_GRAPH_VERSION = 1;
export const EMBED_ONNX_FILE = `embed-v${EMBED_GRAPH_VERSION}.onnx`;
export const embedOutput = (layer: number) => `embedding_${layer}`;

interface NodeObj {
  input: string[];
  output: string[];
  name?: string;
  op_type: string;
  domain?: string;
  attribute?: unknown[];
}
interface TensorObj {
  name: string;
  [k: string]: unknown;
}
interface ValueInfoObj {
  name: string;
  type?: unknown;
}
interface ModelObj {
  graph: { node: NodeObj[]; initializer: TensorObj[]; input: ValueInfoObj[]; output: ValueInfoObj[]; name?: string };
  [k: string]: unknown;
}

function fail(onnxFile: string, what: string): never {
  throw new Error(`${onnxFile}: cannot derive the embedding graph: ${what}`);
}

/** The embedding graph of the generation graph in `onnxFile`, as ONNX bytes (weights stay in its .data file). */
export function deriveEmbeddingGraph(onnxFile: string, numLayers: number, hiddenSize: number): Uint8Array {
  const Model = onnxModelType();
  const model = Model.toObject(Model.decode(readFileSync(onnxFile)), { longs: Number, arrays: true }) as ModelObj;
  const g = model.graph;
  const nodes = g.node;

  // Residual stream tensors.
  const hidden: string[] = [];
  for (let l = 0; l < numLayers; l++) {
    const ln = nodes.find((n) => n.op_type === 'LayerNormalization' && n.input[1] === `layers.${l}.input_layernorm.weight`);
    if (!ln) fail(onnxFile, `no input LayerNormalization for layer ${l}`);
    hidden.push(ln.input[0]);
  }
  const gather = nodes.find((n) => n.op_type === 'Gather' && n.input[1] === 'logits_index');
  const reshape = gather && nodes.find((n) => n.op_type === 'Reshape' && n.output[0] === gather.input[0]);
  if (!reshape) fail(onnxFile, 'no Reshape before the logits_index Gather');
  const finalLn = nodes.find((n) => n.op_type === 'LayerNormalization' && n.input[1] === 'final_layer_norm.weight');
  if (!finalLn) fail(onnxFile, 'no final LayerNormalization');
  const lastBlock = reshape.input[0];

  // New nodes: final norm over every position, then one pooling MatMul per hidden state.
  const added: NodeObj[] = [];
  const lnAll = 'embed_final_layer_norm';
  added.push({ ...finalLn, name: 'n_embed_final_layer_norm', input: [lastBlock, ...finalLn.input.slice(1)], output: [lnAll] });
  hidden.push(lnAll);
  const axis1 = 'embed_axis_1';
  const consts: TensorObj[] = [{ name: axis1, dims: [1], data_type: DataType.INT64, raw_data: Buffer.from(new BigInt64Array([1n]).buffer) }];
  added.push({ op_type: 'Unsqueeze', name: 'n_embed_pool_weights', input: ['pool_weights', axis1], output: ['embed_pool_b1t'] });
  const outputs: ValueInfoObj[] = [];
  hidden.forEach((h, k) => {
    const pooled = `embed_pooled_${k}`;
    added.push({ op_type: 'MatMul', name: `n_embed_pool_${k}`, input: ['embed_pool_b1t', h], output: [pooled] }); // [B,1,D]
    added.push({ op_type: 'Squeeze', name: `n_embed_out_${k}`, input: [pooled, axis1], output: [embedOutput(k)] }); // [B,D]
    outputs.push(tensorInfo(embedOutput(k), DataType.FLOAT, ['batch', hiddenSize]));
  });

  // Prune: keep only what the new outputs need (nodes are in topological order).
  const all = [...nodes, ...added];
  const needed = new Set(outputs.map((o) => o.name));
  const kept: NodeObj[] = [];
  for (let i = all.length - 1; i >= 0; i--) {
    const n = all[i];
    if (!n.output.some((o) => needed.has(o))) continue;
    kept.push(n);
    for (const x of n.input) if (x) needed.add(x);
  }
  kept.reverse();
  g.node = kept;
  g.initializer = [...g.initializer, ...consts].filter((t) => needed.has(t.name));
  g.input = [...g.input.filter((i) => needed.has(i.name)), tensorInfo('pool_weights', DataType.FLOAT, ['batch', 'new'])];
  g.output = outputs;
  g.name = 'neox-embed';
  const err = Model.verify(model);
  if (err) fail(onnxFile, `the derived model does not verify: ${err}`);
  return Model.encode(Model.fromObject(model)).finish();
}

function tensorInfo(name: string, elemType: number, shape: (number | string)[]): ValueInfoObj {
  return {
    name,
    type: { tensor_type: { elem_type: elemType, shape: { dim: shape.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
  };
}

/**
 * The embedding graph next to the build's model.onnx (`dir`), derived on first use and written
 * atomically (a temporary file renamed into place). Returns its path.
 */
export function ensureEmbeddingGraph(dir: string, onnxFile: string, numLayers: number, hiddenSize: number): string {
  const file = join(dir, EMBED_ONNX_FILE);
  if (existsSync(file)) return file;
  const bytes = deriveEmbeddingGraph(onnxFile, numLayers, hiddenSize);
  const tmp = `${file}.tmp-${process.pid}-${Date.now().toString(36)}`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new Error(`cannot write the embedding graph ${file}: ${(e as Error).message}`);
  }
  return file;
}
