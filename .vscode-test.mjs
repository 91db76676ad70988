// Desktop VS Code runs of the in-host suite (test/host): `npm run test:desktop` (scripts/test-desktop.mjs)
// builds the extension and the suite and runs it through @vscode/test-electron with the settings below;
// `npx vscode-test` runs the same suite through @vscode/test-cli once built
// (`node esbuild.mjs && node test/host/build.mjs out/test/host`). Both need a desktop VS Code: downloaded
// from update.code.visualstudio.com, or the executable named by VSCODE_EXECUTABLE. Where neither is
// possible (this project's offline CI), `npm run test:e2e` runs the same suite in code-server.
import { defineConfig } from '@vscode/test-cli';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const workspaceFolder = fileURLToPath(new URL('.cache/host-workspace', import.meta.url));
mkdirSync(workspaceFolder, { recursive: true });
const executable = process.env.VSCODE_EXECUTABLE;

export default defineConfig({
  label: 'host',
  files: 'out/test/host/index.js',
  // The VS Code inside code-server 4.100.3 (test:e2e), and the lowest engines.vscode allows.
  version: '1.100.3',
  ...(executable ? { useInstallation: { fromPath: executable } } : {}),
  workspaceFolder,
  launchArgs: ['--disable-extensions'],
  // delay: test/host/index.ts registers the suites, then calls mocha's global run().
  mocha: { ui: 'bdd', timeout: 180_000, delay: true },
});
