#!/usr/bin/env node
// The VS Code extension manifest parts of package.json (main, activationEvents, contributes), kept here
// as the source of truth and merged into package.json by read-modify-write, because package.json is
// shared with other work. Run under the team's npm lock:
//   flock /tmp/neox-npm.lock node scripts/apply-manifest.mjs
// contributes.configuration is generated from the settings table (protocol/settings.ts), loaded through tsx;
// test/package/manifest.test.ts checks that package.json is in sync with it.
import { readFileSync, writeFileSync } from 'node:fs';
import { tsImport } from 'tsx/esm/api';

const { contributedConfiguration, INLINE_ACCEPTED_COMMAND } = await tsImport('../protocol/index.ts', import.meta.url);

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
  ['downloadModel', 'Download model'],
  ['setHfToken', 'Set Hugging Face token'],
  ['showMenu', 'Show menu'],
  ['openSettings', 'Open settings'],
  ['showLogs', 'Show logs'],
  ['restartServer', 'Restart language server'],
  ['acceptWord', 'Accept next word of the suggestion'],
  ['acceptLine', 'Accept next line of the suggestion'],
  ['dismissInline', 'Dismiss the suggestion'],
  ['chat.askAboutSelection', 'Ask about the selection in chat'],
  ['chat.explainSelection', 'Explain the selection in chat'],
  ['searchWorkspace', 'Search workspace'],
  ['toggleIndexing', 'Pause or resume workspace indexing'],
].map(([id, title]) => ({ command: `neoxComplete.${id}`, title, category: 'NeoX', ...(id === 'showMenu' ? { icon: '$(settings-gear)' } : {}) }));
// Internal: runs when a suggestion is accepted (it reports the acceptance).
commands.push({ command: INLINE_ACCEPTED_COMMAND, title: 'Inline completion accepted', category: 'NeoX' });

const manifest = {
  main: './dist/extension.cjs',
  activationEvents: ['onStartupFinished'],
  contributes: {
    commands,
    configuration: contributedConfiguration(),
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
      commandPalette: [{ command: INLINE_ACCEPTED_COMMAND, when: 'false' }],
      'editor/context': [
        { command: 'neoxComplete.generateFromComment', group: 'neox@1', when: '!editorReadonly' },
        { command: 'neoxComplete.chat.askAboutSelection', group: 'neox@2', when: 'editorHasSelection' },
        { command: 'neoxComplete.chat.explainSelection', group: 'neox@3', when: 'editorHasSelection' },
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
