/**
 * A small ONNX graph builder: nodes, small constants inline, large weights appended to an external
 * .data file as they are produced (so the builder never holds the model's weights), then the
 * graph serialized with protobufjs.
 */
import { closeSync, openSync, writeSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { DataType, onnxModelType, type DataTypeId } from './onnx-proto';

export type AttrValue = number | number[] | string | { float: number } | { floats: number[] };
type TypedArray = Float32Array | Int32Array | Uint8Array | Int8Array | BigInt64Array;

export interface ValueInfo {
  name: string;
  elemType: DataTypeId;
  /** number = fixed size, string = symbolic dimension */
  shape: (number | string)[];
}

// Weights smaller than this stay inline in the .onnx file; bigger ones go to the .data file.
const INLINE_LIMIT = 1024;
// onnxruntime maps external data; 64-byte alignment keeps every tensor aligned for SIMD loads.
const ALIGN = 64;

export class GraphBuilder {
  private readonly nodes: object[] = [];
  private readonly initializers: object[] = [];
  private readonly inputs: object[] = [];
  private readonly outputs: object[] = [];
  private readonly names = new Map<string, number>();
  private readonly dataFd: number;
  private dataOffset = 0;
  readonly opsets: Record<string, number> = { '': 21, 'com.microsoft': 1 };

  constructor(private readonly dataPath: string) {
    this.dataFd = openSync(dataPath, 'w');
  }

  /** A fresh value name with a readable prefix. */
  fresh(prefix: string): string {
    const n = this.names.get(prefix) ?? 0;
    this.names.set(prefix, n + 1);
    return n === 0 ? prefix : `${prefix}_${n}`;
  }

  input(v: ValueInfo): string {
    this.inputs.push(valueInfo(v));
    return v.name;
  }

  output(v: ValueInfo): void {
    this.outputs.push(valueInfo(v));
  }

  /** Adds a node; returns its output names (`outputs` is a count or explicit names). */
  node(opType: string, inputs: string[], outputs: number | string[] = 1, attrs: Record<string, AttrValue> = {}, domain = ''): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase())) : outputs;
    this.nodes.push({
      op_type: opType,
      domain,
      name: this.fresh(`n_${opType}`),
      input: inputs,
      output: outs,
      attribute: Object.entries(attrs).map(([name, v]) => attribute(name, v)),
    });
    return outs;
  }

  /** Shorthand for a one-output node. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, domain = ''): string {
    return this.node(opType, inputs, 1, attrs, domain)[0];
  }

  /** A weight or constant tensor. Large ones are written to the .data file right away. */
  initializer(name: string, data: TypedArray, dims: number[], elemType?: DataTypeId): string {
    const type = elemType ?? inferType(data);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const t: Record<string, unknown> = { name, dims, data_type: type };
    if (bytes.byteLength <= INLINE_LIMIT) {
      t.raw_data = Buffer.from(bytes);
    } else {
      const pad = (ALIGN - (this.dataOffset % ALIGN)) % ALIGN;
      if (pad) writeSync(this.dataFd, new Uint8Array(pad));
      this.dataOffset += pad;
      for (let done = 0; done < bytes.byteLength; ) done += writeSync(this.dataFd, bytes, done, Math.min(bytes.byteLength - done, 1 << 30));
      t.data_location = 1;
      t.external_data = [
        { key: 'location', value: basename(this.dataPath) },
        { key: 'offset', value: String(this.dataOffset) },
        { key: 'length', value: String(bytes.byteLength) },
      ];
      this.dataOffset += bytes.byteLength;
    }
    this.initializers.push(t);
    return name;
  }

  /** Small constants: int64 vector or float scalar/vector. */
  constInt64(values: number[], name = this.fresh('c_i64')): string {
    return this.initializer(name, BigInt64Array.from(values.map(BigInt)), [values.length], DataType.INT64);
  }
  constFloat(values: number[] | Float32Array, dims?: number[], name = this.fresh('c_f32')): string {
    const a = Float32Array.from(values);
    return this.initializer(name, a, dims ?? [a.length], DataType.FLOAT);
  }

  /** Serializes the graph to `onnxPath` and closes the .data file. */
  finish(onnxPath: string, metadata: Record<string, string> = {}): void {
    closeSync(this.dataFd);
    const Model = onnxModelType();
    const model = {
      ir_version: 10,
      producer_name: 'neox-complete',
      producer_version: '1',
      opset_import: Object.entries(this.opsets).map(([domain, version]) => ({ domain, version })),
      metadata_props: Object.entries(metadata).map(([key, value]) => ({ key, value })),
      graph: { name: 'neox', node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    };
    const err = Model.verify(model);
    if (err) throw new Error(`internal: ONNX model does not verify: ${err}`);
    writeFileSync(onnxPath, Model.encode(Model.fromObject(model)).finish());
  }

  /** Closes the .data file without writing a model (failed build). */
  abort(): void {
    try {
      closeSync(this.dataFd);
    } catch {
      /* already closed */
    }
  }
}

function inferType(a: TypedArray): DataTypeId {
  if (a instanceof Float32Array) return DataType.FLOAT;
  if (a instanceof BigInt64Array) return DataType.INT64;
  if (a instanceof Int32Array) return DataType.INT32;
  if (a instanceof Int8Array) return DataType.INT8;
  return DataType.UINT8;
}

function valueInfo(v: ValueInfo) {
  return {
    name: v.name,
    type: {
      tensor_type: {
        elem_type: v.elemType,
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
      },
    },
  };
}

function attribute(name: string, v: AttrValue) {
  if (typeof v === 'number') return { name, type: 2, i: v };
  if (typeof v === 'string') return { name, type: 3, s: Buffer.from(v) };
  if (Array.isArray(v)) return { name, type: 7, ints: v };
  if ('float' in v) return { name, type: 1, f: v.float };
  return { name, type: 6, floats: v.floats };
}
