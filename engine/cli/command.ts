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
