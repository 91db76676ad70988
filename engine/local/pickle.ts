/**
 * A restricted pickle reader: a small stack machine for the opcodes a torch.save state dict uses
 * (protocols 2 to 5, without the ones that build arbitrary objects such as INST, OBJ, NEWOBJ or EXT*).
 * It never runs Python code. Globals are not imported: the caller's policy turns each allowed name
 * into a value and its hooks say what calling it (REDUCE), BUILD and persistent ids mean; every other
 * global is refused. `loadPickle` first walks the whole opcode stream without executing it, so an
 * unknown opcode or a GLOBAL outside the policy fails before a single opcode has run.
 */

export class PickleError extends Error {}

/** A global the policy allowed (GLOBAL / STACK_GLOBAL), as seen by the hooks. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** Python values: str, int (number, or bigint beyond 2^53), float, bool, None (null), bytes (Uint8Array), tuple/list (arrays), dict (Map). */
export type PyValue = unknown;

export interface PickleHooks {
  /** Whether `module.name` may be named at all. */
  allowGlobal(module: string, name: string): boolean;
  /** REDUCE: `fn(*args)` for an allowed global. */
  call(fn: PyGlobal, args: PyValue[]): PyValue;
  /** BUILD: `obj.__setstate__(state)` (or the default `__dict__` update). */
  build(obj: PyValue, state: PyValue): void;
  /** BINPERSID / PERSID: what a persistent id stands for. */
  persistentLoad(pid: PyValue): PyValue;
}

type Arg = 'none' | 'u1' | 'u2' | 'i4' | 'u4' | 'u8' | 'bytes1' | 'bytes4' | 'bytes8' | 'long1' | 'long4' | 'f8' | 'lines2' | 'line';

// opcode -> [name, argument]
const OPS: Record<number, [string, Arg]> = {
  0x80: ['PROTO', 'u1'],
  0x95: ['FRAME', 'u8'],
  0x2e: ['STOP', 'none'],
  0x28: ['MARK', 'none'],
  0x30: ['POP', 'none'],
  0x31: ['POP_MARK', 'none'],
  0x32: ['DUP', 'none'],
  0x7d: ['EMPTY_DICT', 'none'],
  0x5d: ['EMPTY_LIST', 'none'],
  0x29: ['EMPTY_TUPLE', 'none'],
  0x64: ['DICT', 'none'],
  0x6c: ['LIST', 'none'],
  0x74: ['TUPLE', 'none'],
  0x85: ['TUPLE1', 'none'],
  0x86: ['TUPLE2', 'none'],
  0x87: ['TUPLE3', 'none'],
  0x58: ['BINUNICODE', 'bytes4'],
  0x8c: ['SHORT_BINUNICODE', 'bytes1'],
  0x8d: ['BINUNICODE8', 'bytes8'],
  0x55: ['SHORT_BINSTRING', 'bytes1'],
  0x54: ['BINSTRING', 'bytes4'],
  0x43: ['SHORT_BINBYTES', 'bytes1'],
  0x42: ['BINBYTES', 'bytes4'],
  0x8e: ['BINBYTES8', 'bytes8'],
  0x71: ['BINPUT', 'u1'],
  0x72: ['LONG_BINPUT', 'u4'],
  0x94: ['MEMOIZE', 'none'],
  0x68: ['BINGET', 'u1'],
  0x6a: ['LONG_BINGET', 'u4'],
  0x4a: ['BININT', 'i4'],
  0x4b: ['BININT1', 'u1'],
  0x4d: ['BININT2', 'u2'],
  0x8a: ['LONG1', 'long1'],
  0x8b: ['LONG4', 'long4'],
  0x47: ['BINFLOAT', 'f8'],
  0x89: ['NEWFALSE', 'none'],
  0x88: ['NEWTRUE', 'none'],
  0x4e: ['NONE', 'none'],
  0x73: ['SETITEM', 'none'],
  0x75: ['SETITEMS', 'none'],
  0x61: ['APPEND', 'none'],
  0x65: ['APPENDS', 'none'],
  0x63: ['GLOBAL', 'lines2'],
  0x93: ['STACK_GLOBAL', 'none'],
  0x52: ['REDUCE', 'none'],
  0x62: ['BUILD', 'none'],
  0x51: ['BINPERSID', 'none'],
  0x50: ['PERSID', 'line'],
};

// Opcodes that exist but are never in a state dict: named in the refusal.
const REFUSED_NAMES: Record<number, string> = {
  0x69: 'INST',
  0x6f: 'OBJ',
  0x81: 'NEWOBJ',
  0x92: 'NEWOBJ_EX',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x49: 'INT',
  0x4c: 'LONG',
  0x46: 'FLOAT',
  0x53: 'STRING',
  0x56: 'UNICODE',
  0x67: 'GET',
  0x70: 'PUT',
  0x90: 'ADDITEMS',
  0x8f: 'EMPTY_SET',
  0x91: 'FROZENSET',
  0x96: 'BYTEARRAY8',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

const MARK = Symbol('mark');

interface Op {
  code: number;
  name: string;
  pos: number;
  arg: number | bigint | string | Uint8Array | [string, string] | null;
}

/** Walks the opcode stream without executing it. */
function* opcodes(data: Uint8Array, where: string): Generator<Op> {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const dec = new TextDecoder('utf-8', { fatal: true });
  let p = 0;
  const need = (n: number, pos: number, name: string) => {
    if (p + n > data.length) throw new PickleError(`${where}: pickle ends inside ${name} at byte ${pos} (truncated)`);
  };
  const line = (pos: number, name: string): string => {
    const end = data.indexOf(0x0a, p);
    if (end < 0) throw new PickleError(`${where}: pickle ends inside ${name} at byte ${pos} (truncated)`);
    const s = Buffer.from(data.subarray(p, end)).toString('latin1');
    p = end + 1;
    return s;
  };
  while (true) {
    if (p >= data.length) throw new PickleError(`${where}: pickle ends without STOP (truncated)`);
    const pos = p;
    const code = data[p++];
    const spec = OPS[code];
    if (!spec) {
      const known = REFUSED_NAMES[code];
      throw new PickleError(
        `${where}: pickle opcode ${known ?? `0x${code.toString(16).padStart(2, '0')}`} at byte ${pos} is not allowed in a state dict (refused before anything was run)`,
      );
    }
    const [name, kind] = spec;
    let arg: Op['arg'] = null;
    switch (kind) {
      case 'none':
        break;
      case 'u1':
        need(1, pos, name);
        arg = data[p];
        p += 1;
        break;
      case 'u2':
        need(2, pos, name);
        arg = view.getUint16(p, true);
        p += 2;
        break;
      case 'i4':
        need(4, pos, name);
        arg = view.getInt32(p, true);
        p += 4;
        break;
      case 'u4':
        need(4, pos, name);
        arg = view.getUint32(p, true);
        p += 4;
        break;
      case 'u8':
        need(8, pos, name);
        arg = view.getBigUint64(p, true);
        p += 8;
        break;
      case 'f8':
        need(8, pos, name);
        arg = view.getFloat64(p, false);
        p += 8;
        break;
      case 'bytes1':
      case 'bytes4':
      case 'bytes8':
      case 'long1':
      case 'long4': {
        const w = kind === 'bytes1' || kind === 'long1' ? 1 : kind === 'bytes8' ? 8 : 4;
        need(w, pos, name);
        const n = w === 1 ? data[p] : w === 4 ? view.getUint32(p, true) : Number(view.getBigUint64(p, true));
        p += w;
        need(n, pos, name);
        const bytes = data.subarray(p, p + n);
        p += n;
        if (kind === 'long1' || kind === 'long4') {
          let v = 0n;
          for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
          if (n > 0 && bytes[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
          arg = v;
        } else if (name.includes('UNICODE')) {
          try {
            arg = dec.decode(bytes);
          } catch {
            throw new PickleError(`${where}: ${name} at byte ${pos} is not valid UTF-8`);
          }
        } else if (name.includes('STRING')) {
          arg = Buffer.from(bytes).toString('latin1');
        } else {
          arg = Uint8Array.from(bytes);
        }
        break;
      }
      case 'lines2':
        arg = [line(pos, name), line(pos, name)];
        break;
      case 'line':
        arg = line(pos, name);
        break;
    }
    yield { code, name, pos, arg };
    if (code === 0x2e) return;
  }
}

const qualify = (module: string, name: string) => `${module}.${name}`;

/**
 * Unpickles `data` under `hooks`. `where` names the file and record in errors. Every opcode and
 * every GLOBAL is checked before the first one runs; STACK_GLOBAL (protocol 4) takes its names from
 * the stack, so it is checked when reached, before its value exists.
 */
export function loadPickle(data: Uint8Array, where: string, hooks: PickleHooks): PyValue {
  const ops = [...opcodes(data, where)];
  for (const op of ops) {
    if (op.code === 0x63) {
      const [module, name] = op.arg as [string, string];
      if (!hooks.allowGlobal(module, name)) {
        throw new PickleError(
          `${where}: the pickle names the global ${qualify(module, name)} (at byte ${op.pos}), which a state dict never needs; refused before anything was run`,
        );
      }
    }
  }

  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const fail = (op: Op, why: string): never => {
    throw new PickleError(`${where}: pickle opcode ${op.name} at byte ${op.pos}: ${why}`);
  };
  const pop = (op: Op): unknown => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) fail(op, 'stack underflow');
    return stack.pop();
  };
  const popMark = (op: Op): unknown[] => {
    const m = marks.pop();
    if (m === undefined) return fail(op, 'no MARK');
    return stack.splice(m);
  };
  const top = (op: Op): unknown => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) fail(op, 'stack underflow');
    return stack[stack.length - 1];
  };
  const asDict = (op: Op, v: unknown): Map<unknown, unknown> => (v instanceof Map ? v : fail(op, 'target is not a dict'));
  const asList = (op: Op, v: unknown): unknown[] => (Array.isArray(v) && !Object.isFrozen(v) ? v : fail(op, 'target is not a list'));
  const key = (op: Op, k: unknown): unknown => {
    if (typeof k === 'string' || typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean' || k === null) return k;
    return fail(op, 'dict keys must be str, int, bool or None');
  };
  const tuple = (items: unknown[]) => Object.freeze(items);
  const int = (v: bigint): number | bigint => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);

  for (const op of ops) {
    switch (op.name) {
      case 'PROTO':
        if ((op.arg as number) > 5) fail(op, `protocol ${op.arg} is newer than 5`);
        break;
      case 'FRAME':
        break;
      case 'STOP': {
        const result = pop(op);
        if (stack.length || marks.length) fail(op, 'values left on the stack');
        return result;
      }
      case 'MARK':
        marks.push(stack.length);
        break;
      case 'POP':
        pop(op);
        break;
      case 'POP_MARK':
        popMark(op);
        break;
      case 'DUP':
        stack.push(top(op));
        break;
      case 'EMPTY_DICT':
        stack.push(new Map());
        break;
      case 'EMPTY_LIST':
        stack.push([]);
        break;
      case 'EMPTY_TUPLE':
        stack.push(tuple([]));
        break;
      case 'DICT': {
        const items = popMark(op);
        if (items.length % 2) fail(op, 'odd number of items');
        const d = new Map();
        for (let i = 0; i < items.length; i += 2) d.set(key(op, items[i]), items[i + 1]);
        stack.push(d);
        break;
      }
      case 'LIST':
        stack.push(popMark(op));
        break;
      case 'TUPLE':
        stack.push(tuple(popMark(op)));
        break;
      case 'TUPLE1':
      case 'TUPLE2':
      case 'TUPLE3': {
        const n = Number(op.name[5]);
        const items: unknown[] = [];
        for (let i = 0; i < n; i++) items.unshift(pop(op));
        stack.push(tuple(items));
        break;
      }
      case 'BINUNICODE':
      case 'SHORT_BINUNICODE':
      case 'BINUNICODE8':
      case 'SHORT_BINSTRING':
      case 'BINSTRING':
      case 'SHORT_BINBYTES':
      case 'BINBYTES':
      case 'BINBYTES8':
      case 'BININT':
      case 'BININT1':
      case 'BININT2':
      case 'BINFLOAT':
        stack.push(op.arg);
        break;
      case 'LONG1':
      case 'LONG4':
        stack.push(int(op.arg as bigint));
        break;
      case 'NEWFALSE':
        stack.push(false);
        break;
      case 'NEWTRUE':
        stack.push(true);
        break;
      case 'NONE':
        stack.push(null);
        break;
      case 'BINPUT':
      case 'LONG_BINPUT':
        memo.set(op.arg as number, top(op));
        break;
      case 'MEMOIZE':
        memo.set(memo.size, top(op));
        break;
      case 'BINGET':
      case 'LONG_BINGET':
        if (!memo.has(op.arg as number)) fail(op, `memo entry ${op.arg} was never stored`);
        stack.push(memo.get(op.arg as number));
        break;
      case 'SETITEM': {
        const v = pop(op);
        const k = pop(op);
        asDict(op, top(op)).set(key(op, k), v);
        break;
      }
      case 'SETITEMS': {
        const items = popMark(op);
        if (items.length % 2) fail(op, 'odd number of items');
        const d = asDict(op, top(op));
        for (let i = 0; i < items.length; i += 2) d.set(key(op, items[i]), items[i + 1]);
        break;
      }
      case 'APPEND': {
        const v = pop(op);
        asList(op, top(op)).push(v);
        break;
      }
      case 'APPENDS': {
        const items = popMark(op);
        asList(op, top(op)).push(...items);
        break;
      }
      case 'GLOBAL': {
        const [module, name] = op.arg as [string, string];
        stack.push(new PyGlobal(module, name));
        break;
      }
      case 'STACK_GLOBAL': {
        const name = pop(op);
        const module = pop(op);
        if (typeof module !== 'string' || typeof name !== 'string') fail(op, 'module and name must be strings');
        if (!hooks.allowGlobal(module as string, name as string)) {
          throw new PickleError(
            `${where}: the pickle names the global ${qualify(module as string, name as string)} (at byte ${op.pos}), which a state dict never needs; refused before it was used`,
          );
        }
        stack.push(new PyGlobal(module as string, name as string));
        break;
      }
      case 'REDUCE': {
        const args = pop(op);
        const fn = pop(op);
        if (!(fn instanceof PyGlobal)) fail(op, 'only a global can be called');
        if (!Array.isArray(args) || !Object.isFrozen(args)) fail(op, 'arguments must be a tuple');
        stack.push(hooks.call(fn as PyGlobal, args as unknown[]));
        break;
      }
      case 'BUILD': {
        const state = pop(op);
        hooks.build(top(op), state);
        break;
      }
      case 'BINPERSID':
        stack.push(hooks.persistentLoad(pop(op)));
        break;
      case 'PERSID':
        stack.push(hooks.persistentLoad(op.arg));
        break;
      default:
        fail(op, 'not implemented');
    }
  }
  throw new PickleError(`${where}: pickle ends without STOP (truncated)`);
}
