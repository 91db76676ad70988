#!/usr/bin/env node
// Launcher for the bundled CLI (dist/neox.mjs is produced by `npm run build`, which `npm ci` runs via "prepare").
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/neox.mjs', import.meta.url));
if (!existsSync(cli)) {
  console.error(`neox: ${cli} is missing; run "npm run build" in ${fileURLToPath(new URL('..', import.meta.url))}`);
  process.exit(1);
}
await import(new URL('../dist/neox.mjs', import.meta.url).href);
