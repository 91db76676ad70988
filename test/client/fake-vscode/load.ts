/**
 * Import for its effect, before loading client modules that import `vscode` at run time: from then on
 * `import 'vscode'` gets test/client/fake-vscode/vscode.ts. Resolution of a module's static imports
 * happens before any of them runs, so load such client modules with `await import(...)` after this one.
 */
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
