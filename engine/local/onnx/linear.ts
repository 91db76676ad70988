/**
 * Every linear layer of the model (y = x @ W + b) is emitted here, so the weight format
 * (fp32 MatMul; int8 and int4 MatMulNBits, keyed by the quant option) is decided in one place.
 */
import { NeoxError } from '../../types';
import type { GraphBuilder } from './graph';
import { linearPrecision } from '../quant/policy';
import { emitInt8Linear, emitInt4Linear, int4Options } from '../quant/emit';
import { transpose } from '../quant/transpose';
import type { LinearOptions, LinearSpec } from './linear-spec';

/** Emits x[..., K] @ W[K, N] (+ b) and returns the output value name ([..., N]). */
export function emitLinear(g: GraphBuilder, x: string, spec: LinearSpec, opts: LinearOptions): string {
  if (spec.weight.length !== spec.K * spec.N) throw new Error(`internal: ${spec.name} weight has ${spec.weight.length} elements, expected ${spec.K}x${spec.N}`);
  // Which layers stay in higher precision under int8/int4 is decided (and explained) in quant/policy.ts.
  switch (linearPrecision(spec.role, opts.quant)) {
    case 'int4':
      return emitInt4Linear(g, x, spec, { ...int4Options(opts), prequantized: spec.int4 });
    case 'int8':
      return emitInt8Linear(g, x, spec);
    case 'fp32': {
      spec = asKN(spec);
      const w = g.initializer(`${spec.name}.weight`, spec.weight, [spec.K, spec.N]);
      const y = g.op('MatMul', [x, w]);
      if (!spec.bias) return y;
      const b = g.initializer(`${spec.name}.bias`, spec.bias, [spec.N]);
      return g.op('Add', [y, b]);
    }
    default:
      throw new NeoxError(`quant "${opts.quant}" is not supported (use fp32, int8 or int4)`, 'quant_unsupported');
  }
}

function asKN(spec: LinearSpec): LinearSpec {
  return spec.layout === 'NK' ? { ...spec, weight: transpose(spec.weight, spec.N, spec.K), layout: 'KN' } : spec;
}
