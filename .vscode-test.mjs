// Desktop VS Code run of the in-host suite (@vscode/test-cli), for machines that can download VS Code.
// This repository's CI cannot (no update host offline); there `npm run test:e2e` runs the same suite in
// code-server (test/e2e/run.ts). Build first: node esbuild.mjs && node test/host/build.mjs out/test/host
import { defineConfig } from '@vscode/test-cli';

export default defineConfig({
  files: 'out/test/host/index.js',
  version: '1.100.3',
  workspaceFolder: './.cache/host-workspace',
  mocha: { ui: 'bdd', timeout: 180000 },
});
