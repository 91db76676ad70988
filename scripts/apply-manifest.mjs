#!/usr/bin/env node
// The VS Code extension manifest parts of package.json (main, activationEvents, contributes), kept here
// as the source of truth and merged into package.json by read-modify-write, because package.json is
// shared with other work. Run under the team's npm lock:
//   flock /tmp/neox-npm.lock node scripts/apply-manifest.mjs
// Settings mirror NeoxSettings in server/protocol.ts.
import { readFileSync, writeFileSync } from 'node:fs';

const when = {
  inlineVisible: 'editorTextFocus && inlineSuggestionVisible && !editorReadonly',
};

const commands = [
  ['triggerInline', 'Trigger inline completion'],
  ['generateFromComment', 'Generate code from comment'],
  ['generateFile', 'Generate file'],
  ['toggle', 'Toggle completions'],
  ['snooze', 'Snooze completions'],
  ['showStatistics', 'Show completion statistics'],
  ['selectModel', 'Select model / backend'],
  ['setApiKey', 'Set API key'],
  ['showMenu', 'Show menu'],
  ['openSettings', 'Open settings'],
  ['showLogs', 'Show logs'],
  ['restartServer', 'Restart language server'],
  ['acceptWord', 'Accept next word of the suggestion'],
  ['acceptLine', 'Accept next line of the suggestion'],
  ['dismissInline', 'Dismiss the suggestion'],
  ['chat.askAboutSelection', 'Ask about the selection in chat'],
].map(([id, title]) => ({ command: `neoxComplete.${id}`, title, category: 'NeoX', ...(id === 'showMenu' ? { icon: '$(settings-gear)' } : {}) }));
// Internal: runs when a suggestion is accepted (it reports the acceptance).
commands.push({ command: 'neoxComplete.inlineAccepted', title: 'Inline completion accepted', category: 'NeoX' });

const manifest = {
  main: './dist/extension.cjs',
  activationEvents: ['onStartupFinished'],
  contributes: {
    commands,
    configuration: {
      title: 'NeoX Complete',
      properties: {
        'neoxComplete.enabled': { type: 'boolean', default: true, order: 0, description: 'Show inline completions (ghost text) while typing. "NeoX: Toggle completions" flips this.' },
        'neoxComplete.backend': {
          type: 'string', enum: ['local', 'openai', 'tgi'], default: 'local', order: 1,
          enumDescriptions: [
            'The built-in ONNX engine on this machine (CPU): no data leaves it.',
            'An OpenAI-compatible server (vLLM, `neox serve`, ...) at neoxComplete.remoteUrl.',
            'A Hugging Face Text Generation Inference server at neoxComplete.remoteUrl.',
          ],
          description: 'Where completions are computed.',
        },
        'neoxComplete.modelPath': { type: 'string', default: '', order: 2, markdownDescription: 'Local backend: a Hugging Face GPT-NeoX checkpoint folder (`config.json`, `*.safetensors`, `tokenizer.json`). Empty: the built-in `neox-code-23m`.' },
        'neoxComplete.quantization': {
          type: 'string', enum: ['fp32', 'int8', 'int4'], default: 'int8', order: 3,
          enumDescriptions: ['Full precision: exact, largest and slowest.', '8-bit weights: about 4x smaller, near-identical output.', '4-bit weights (block size 32): about 8x smaller, small quality loss.'],
          description: 'Local backend: weight precision of the ONNX model built from the checkpoint.',
        },
        'neoxComplete.remoteUrl': { type: 'string', default: '', order: 4, markdownDescription: 'Remote backends: base URL of the server, e.g. `http://gpu-box:8000`. The API key is set with "NeoX: Set API key" (kept in the OS keychain, never in settings).' },
        'neoxComplete.remoteModel': { type: 'string', default: '', order: 5, description: 'Remote backends: the model name to request (empty: the server default).' },
        'neoxComplete.maxTokens': { type: 'integer', default: 64, minimum: 1, maximum: 4096, order: 6, description: 'Most tokens generated for one inline completion (generation commands and chat allow more).' },
        'neoxComplete.temperature': { type: 'number', default: 0, minimum: 0, maximum: 2, order: 7, description: 'Sampling temperature; 0 is greedy (deterministic).' },
        'neoxComplete.debounceMs': {
          anyOf: [{ type: 'number', minimum: 0, maximum: 2000 }, { type: 'string', enum: ['auto'] }],
          default: 'auto', order: 8,
          markdownDescription: 'Milliseconds to wait after typing before asking for a completion; `"auto"` adapts to the measured latency.',
        },
        'neoxComplete.enabledLanguages': { type: 'array', items: { type: 'string' }, default: ['*'], order: 9, markdownDescription: 'Language ids that get inline completions (`"*"` = all), e.g. `["python", "typescript"]`.' },
        'neoxComplete.candidates': { type: 'integer', default: 3, minimum: 1, maximum: 8, order: 11, markdownDescription: 'Suggestions computed when completion is triggered by hand (Alt+\\\\); cycle through them with Alt+] and Alt+[. Automatic suggestions compute one.' },
        'neoxComplete.maxLines': { type: 'integer', default: 12, minimum: 1, maximum: 200, order: 12, description: 'Longest multi-line suggestion, in lines.' },
        'neoxComplete.crossFileContext': { type: 'boolean', default: true, order: 13, description: 'Add snippets of other open and recently edited files to the prompt.' },
        'neoxComplete.contextBudget': { type: 'integer', default: 1536, minimum: 64, maximum: 32768, order: 10, description: 'Prompt budget in tokens (code before and after the cursor plus snippets from other files), capped by the model\'s context length.' },
      },
    },
    viewsContainers: { activitybar: [{ id: 'neoxComplete', title: 'NeoX Chat', icon: 'client/media/neox.svg' }] },
    views: { neoxComplete: [{ type: 'webview', id: 'neoxComplete.chat', name: 'Chat' }] },
    keybindings: [
      { command: 'neoxComplete.triggerInline', key: 'alt+\\', when: 'editorTextFocus && !editorReadonly' },
      { command: 'neoxComplete.acceptWord', key: 'ctrl+right', mac: 'cmd+right', when: when.inlineVisible },
      { command: 'neoxComplete.dismissInline', key: 'escape', when: 'editorTextFocus && inlineSuggestionVisible' },
      { command: 'neoxComplete.acceptLine', key: 'ctrl+alt+right', mac: 'cmd+alt+right', when: when.inlineVisible },
      { command: 'neoxComplete.generateFromComment', key: 'ctrl+alt+enter', mac: 'cmd+alt+enter', when: 'editorTextFocus && !editorReadonly' },
    ],
    menus: {
      commandPalette: [{ command: 'neoxComplete.inlineAccepted', when: 'false' }],
      'editor/context': [
        { command: 'neoxComplete.generateFromComment', group: 'neox@1', when: '!editorReadonly' },
        { command: 'neoxComplete.chat.askAboutSelection', group: 'neox@2', when: 'editorHasSelection' },
      ],
      'view/title': [{ command: 'neoxComplete.showMenu', when: 'view == neoxComplete.chat', group: 'navigation' }],
    },
  },
};

const path = new URL('../package.json', import.meta.url);
const pkg = JSON.parse(readFileSync(path, 'utf8'));
Object.assign(pkg, { main: manifest.main, activationEvents: manifest.activationEvents, contributes: manifest.contributes });
pkg.categories ??= ['Programming Languages', 'Machine Learning', 'Other'];
pkg.keywords ??= ['autocomplete', 'code completion', 'gpt-neox', 'ai', 'offline', 'self-hosted'];
writeFileSync(path, JSON.stringify(pkg, null, 2) + '\n');
console.log('package.json: manifest parts applied');
