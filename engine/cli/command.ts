/** What every `neox` subcommand module exports (as default). */
import type { ParseArgsConfig } from 'node:util';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;
export type ArgValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface CommandContext {
  values: ArgValues;
  positionals: string[];
  /** Aborted on Ctrl-C: long work stops between two tokens. */
  signal: AbortSignal;
}

export interface Command {
  /** One line for `neox --help`. */
  summary: string;
  /** Usage text for `neox CMD --help` (options beyond the common ones). */
  usage: string;
  options: OptionSpec;
  /** Resolves to the exit code. */
  run(ctx: CommandContext): Promise<number>;
}

/** Thrown for bad command-line usage: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {}

/**
 * Node's parseArgs errors, reworded for the `neox` command line. Node's own text for an unknown option
 * ends in an unmatched quote (`as in '-- "--bogus"`) and its missing-value text shows an internal
 * `<value>` form; this gives one balanced line naming the flag, with a "did you mean" when one is close.
 */
export function parseArgsMessage(e: unknown, options: OptionSpec = {}): string {
  const err = e as { code?: string; message?: string };
  const message = String(err?.message ?? e);
  const names = Object.keys(options).map((n) => `--${n}`);
  if (err?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const flag = /Unknown option '([^']*)'/.exec(message)?.[1] ?? '?';
    const bare = flag.replace(/=.*$/, '');
    const near = bare.startsWith('--') && bare.length >= 6 ? names.filter((n) => editDistance(n, bare) <= 2 || n.startsWith(bare)) : [];
    if (near.length) return `unknown option ${flag}: did you mean ${near.slice(0, 3).join(' or ')}?`;
    return `unknown option ${flag}; a prompt that starts with "-" goes after "--", as in: -- "${flag}"`;
  }
  if (err?.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const m = /Option '(?:-\w, )?(--[\w-]+)[^']*' (argument missing|does not take an argument)/.exec(message);
    if (m) return m[2] === 'argument missing' ? `${m[1]} needs a value` : `${m[1]} takes no value`;
  }
  if (err?.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return message.replace(/'/g, '"');
  return message;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}
