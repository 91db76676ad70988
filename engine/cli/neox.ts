/**
 * The `neox` command line: `neox <command> [options]`. Every failure is one line on stderr
 * (naming the file, field or flag at fault) and a non-zero exit; set NEOX_DEBUG=1 for stacks.
 */
import { parseArgs } from 'node:util';
import { NeoxError } from '../types';
import { UsageError, parseArgsMessage, type Command, type OptionSpec } from './command';
import { commands } from './commands';
import { modelUsage } from './common';

function mainHelp(loaded: [string, Command][]): string {
  const width = Math.max(...loaded.map(([n]) => n.length));
  return `usage: neox <command> [options]   (neox <command> --help for its options)

${loaded.map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`).join('\n')}
`;
}

function commandHelp(c: Command): string {
  return `usage: ${c.usage}\n${c.options.quant ? '\n' + modelUsage + '\n' : ''}`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const loaded = await Promise.all(Object.entries(commands).map(async ([n, l]) => [n, (await l()).default] as [string, Command]));
    process.stdout.write(mainHelp(loaded));
    return name ? 0 : 2;
  }
  const load = commands[name];
  if (!load) throw new UsageError(`unknown command "${name}" (commands: ${Object.keys(commands).join(', ')})`);
  const command = (await load()).default;
  const options: OptionSpec = { ...command.options, help: { type: 'boolean', short: 'h' } };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(parseArgsMessage(e, options));
  }
  if (parsed.values.help) {
    process.stdout.write(commandHelp(command));
    return 0;
  }
  const abort = new AbortController();
  // First Ctrl-C stops generation between two tokens; a second one (or a stuck load) exits at once.
  process.on('SIGINT', () => {
    if (abort.signal.aborted) process.exit(130);
    abort.abort();
    setTimeout(() => process.exit(130), 3000).unref();
  });
  return command.run({ values: parsed.values, positionals: parsed.positionals, signal: abort.signal });
}

let code: number;
try {
  code = await main(process.argv.slice(2));
} catch (e) {
  const cmd = process.argv[2] && commands[process.argv[2]] ? `neox ${process.argv[2]}` : 'neox';
  if (e instanceof UsageError) {
    process.stderr.write(`${cmd}: ${e.message} (see ${cmd} --help)\n`);
    code = 2;
  } else if (e instanceof NeoxError) {
    process.stderr.write(`${cmd}: ${e.message.split('\n')[0]}\n`);
    code = 1;
  } else {
    const err = e as Error;
    process.stderr.write(`${cmd}: internal error: ${(err?.message ?? String(e)).split('\n')[0]}\n`);
    code = 1;
  }
  if (process.env.NEOX_DEBUG) console.error(e);
}
// The engine's worker thread and native handles must not keep a finished command alive.
process.exit(code);
