/**
 * What the server needs to know per language: how to write a line comment (for the
 * prompt header and snippets), whether blocks are delimited by braces or indentation,
 * which tree-sitter grammar parses it and which snippets/ template applies.
 */
export interface LanguageSpec {
  /** Template file stem in snippets/ (python, typescript, ... or generic). */
  template: string;
  lineComment: string;
  /** Blocks end by dedent (Python) rather than by a closing brace. */
  indentBlocks: boolean;
  /** tree-sitter-wasms grammar name (tree-sitter-<name>.wasm), when one exists. */
  grammar?: string;
}

const SPECS: Record<string, LanguageSpec> = {
  python: { template: 'python', lineComment: '#', indentBlocks: true, grammar: 'python' },
  typescript: { template: 'typescript', lineComment: '//', indentBlocks: false, grammar: 'typescript' },
  typescriptreact: { template: 'typescript', lineComment: '//', indentBlocks: false, grammar: 'tsx' },
  javascript: { template: 'javascript', lineComment: '//', indentBlocks: false, grammar: 'javascript' },
  javascriptreact: { template: 'javascript', lineComment: '//', indentBlocks: false, grammar: 'javascript' },
  java: { template: 'java', lineComment: '//', indentBlocks: false, grammar: 'java' },
  c: { template: 'c', lineComment: '//', indentBlocks: false, grammar: 'c' },
  cpp: { template: 'cpp', lineComment: '//', indentBlocks: false, grammar: 'cpp' },
  go: { template: 'go', lineComment: '//', indentBlocks: false, grammar: 'go' },
  rust: { template: 'rust', lineComment: '//', indentBlocks: false, grammar: 'rust' },
  csharp: { template: 'generic', lineComment: '//', indentBlocks: false, grammar: 'c_sharp' },
  ruby: { template: 'generic', lineComment: '#', indentBlocks: false, grammar: 'ruby' },
  shellscript: { template: 'generic', lineComment: '#', indentBlocks: false, grammar: 'bash' },
  yaml: { template: 'generic', lineComment: '#', indentBlocks: true, grammar: 'yaml' },
  lua: { template: 'generic', lineComment: '--', indentBlocks: false, grammar: 'lua' },
  // Known comment markers without a grammar here: the header and snippets use the right marker.
  haskell: { template: 'generic', lineComment: '--', indentBlocks: false },
  sql: { template: 'generic', lineComment: '--', indentBlocks: false },
  perl: { template: 'generic', lineComment: '#', indentBlocks: false },
  r: { template: 'generic', lineComment: '#', indentBlocks: false },
  julia: { template: 'generic', lineComment: '#', indentBlocks: false },
  elixir: { template: 'generic', lineComment: '#', indentBlocks: false },
  powershell: { template: 'generic', lineComment: '#', indentBlocks: false },
  dockerfile: { template: 'generic', lineComment: '#', indentBlocks: false },
  makefile: { template: 'generic', lineComment: '#', indentBlocks: false },
  toml: { template: 'generic', lineComment: '#', indentBlocks: false },
  php: { template: 'generic', lineComment: '//', indentBlocks: false },
  kotlin: { template: 'generic', lineComment: '//', indentBlocks: false },
  swift: { template: 'generic', lineComment: '//', indentBlocks: false },
  scala: { template: 'generic', lineComment: '//', indentBlocks: false },
  dart: { template: 'generic', lineComment: '//', indentBlocks: false },
  fsharp: { template: 'generic', lineComment: '//', indentBlocks: false },
  'objective-c': { template: 'generic', lineComment: '//', indentBlocks: false },
  'objective-cpp': { template: 'generic', lineComment: '//', indentBlocks: false },
  zig: { template: 'generic', lineComment: '//', indentBlocks: false },
  clojure: { template: 'generic', lineComment: ';', indentBlocks: false },
  erlang: { template: 'generic', lineComment: '%', indentBlocks: false },
  latex: { template: 'generic', lineComment: '%', indentBlocks: false },
};

/**
 * Any other language: its comment marker is unknown, so nothing that needs one (the prompt
 * header, cross-file snippets) is written for it — see knownLanguage. The '//' here only serves
 * heuristics that look for a comment, never text written into a prompt.
 */
const GENERIC: LanguageSpec = { template: 'generic', lineComment: '//', indentBlocks: false };

/** True when the language's line comment is known (a prompt may carry comment lines for it). */
export function knownLanguage(languageId: string): boolean {
  return Object.hasOwn(SPECS, languageId);
}

const EXTENSIONS: Record<string, string> = {
  py: 'python', pyi: 'python', ts: 'typescript', mts: 'typescript', cts: 'typescript', tsx: 'typescriptreact',
  js: 'javascript', mjs: 'javascript', cjs: 'javascript', jsx: 'javascriptreact', java: 'java',
  c: 'c', h: 'c', cc: 'cpp', cpp: 'cpp', cxx: 'cpp', hpp: 'cpp', hh: 'cpp', go: 'go', rs: 'rust',
  cs: 'csharp', rb: 'ruby', sh: 'shellscript', bash: 'shellscript', yml: 'yaml', yaml: 'yaml', lua: 'lua',
};

export function languageSpec(languageId: string): LanguageSpec {
  return SPECS[languageId] ?? GENERIC;
}

/** Language id from a file name (for generateFile, where there is no document yet). */
export function languageFromFileName(fileName: string): string {
  const ext = /\.([A-Za-z0-9]+)$/.exec(fileName)?.[1]?.toLowerCase() ?? '';
  return EXTENSIONS[ext] ?? 'plaintext';
}

/** `text` as line comments of the language (every line prefixed). */
export function asLineComments(text: string, languageId: string): string {
  const c = languageSpec(languageId).lineComment;
  return text
    .split('\n')
    .map((l) => (l.length ? `${c} ${l}` : c))
    .join('\n');
}
