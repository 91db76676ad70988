/**
 * The `neox` subcommands, loaded lazily. To add one, write engine/cli/NAME.ts exporting a
 * default `Command` and add one line here.
 */
import type { Command } from './command';

export const commands: Record<string, () => Promise<{ default: Command }>> = {
  generate: () => import('./generate'),
  tokenize: () => import('./tokenize'),
  eval: () => import('./eval'),
  info: () => import('./info'),
  serve: () => import('./serve'),
  pull: () => import('./pull'),
  models: () => import('./models'),
  embed: () => import('./embed'),
};
