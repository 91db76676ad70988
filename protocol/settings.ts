/**
 * The one table of NeoX Complete's settings (section `neoxComplete`): key, type, default, allowed
 * values, bounds, order in the Settings UI and description. Everything else is derived from it:
 * - package.json `contributes.configuration` (scripts/apply-manifest.mjs writes contributedConfiguration();
 *   test/package/manifest.test.ts checks that package.json is in sync),
 * - the client's typed reads (client/config.ts),
 * - the server's resolution of raw settings: defaults, enum checks, clamping to min/max (server/settings.ts).
 *
 * The backend kinds, the quantizations and the remote timeouts are engine facts (engine/types.ts).
 */
import { BACKEND_KINDS, CHAT_FORMATS, QUANTIZATIONS, REMOTE_CHAT_TEMPLATES, REMOTE_TIMEOUT_DEFAULTS } from '../engine/types';

interface Common {
  /** Position in the Settings UI. */
  order: number;
  description: string;
  /** The description is Markdown (`markdownDescription` in the manifest). */
  markdown?: boolean;
}
export type SettingSpec = Common &
  (
    | { type: 'boolean'; default: boolean }
    | { type: 'string'; default: string }
    | { type: 'enum'; values: readonly string[]; enumDescriptions: readonly string[]; default: string }
    | { type: 'integer' | 'number'; default: number; minimum: number; maximum?: number }
    /** A number of milliseconds, or 'auto'. */
    | { type: 'numberOrAuto'; default: number | 'auto'; minimum: number; maximum: number }
    | { type: 'stringArray'; default: readonly string[] }
  );

/** The workspace index leaves out files larger than this (server/index/files.ts). */
export const INDEX_MAX_FILE_KB = 512;

export const SETTINGS = {
  enabled: {
    type: 'boolean',
    default: true,
    order: 0,
    description: 'Show inline completions (ghost text) while typing. "NeoX: Toggle completions" flips this.',
  },
  backend: {
    type: 'enum',
    values: BACKEND_KINDS,
    default: 'local',
    order: 1,
    enumDescriptions: [
      'The built-in ONNX engine on this machine (CPU): no data leaves it.',
      'An OpenAI-compatible server (vLLM, `neox serve`, ...) at neoxComplete.remoteUrl.',
      'A Hugging Face Text Generation Inference server at neoxComplete.remoteUrl.',
    ],
    description: 'Where completions are computed.',
  },
  modelPath: {
    type: 'string',
    default: '',
    order: 2,
    markdown: true,
    description:
      'Local backend: a Hugging Face GPT-NeoX checkpoint folder (`config.json`, `*.safetensors`, `tokenizer.json`), or a Hugging Face Hub id (`EleutherAI/pythia-1.4b`, `ORG/NAME@REVISION`) found in the Hugging Face cache; one not downloaded yet is offered for download ("NeoX: Download model"). Empty: the built-in `neox-code-23m`.',
  },
  quantization: {
    type: 'enum',
    values: QUANTIZATIONS,
    default: 'int8',
    order: 3,
    enumDescriptions: [
      'Full precision: exact, largest and slowest.',
      '8-bit weights: about 4x smaller, near-identical output.',
      '4-bit weights (block size 32): about 8x smaller, small quality loss.',
    ],
    description: 'Local backend: weight precision of the ONNX model built from the checkpoint.',
  },
  remoteUrl: {
    type: 'string',
    default: '',
    order: 4,
    markdown: true,
    description:
      'Remote backends: base URL of the server, e.g. `http://gpu-box:8000`. The API key is set with "NeoX: Set API key" (kept in the OS keychain, never in settings).',
  },
  remoteModel: {
    type: 'string',
    default: '',
    order: 5,
    description: 'Remote backends: the model name to request (empty: the server default).',
  },
  maxTokens: {
    type: 'integer',
    default: 64,
    minimum: 1,
    maximum: 4096,
    order: 6,
    description: 'Most tokens generated for one inline completion (generation commands and chat allow more).',
  },
  temperature: {
    type: 'number',
    default: 0,
    minimum: 0,
    maximum: 2,
    order: 7,
    description: 'Sampling temperature; 0 is greedy (deterministic).',
  },
  debounceMs: {
    type: 'numberOrAuto',
    default: 'auto',
    minimum: 0,
    maximum: 2000,
    order: 8,
    markdown: true,
    description: 'Milliseconds to wait after typing before asking for a completion; `"auto"` adapts to the measured latency.',
  },
  enabledLanguages: {
    type: 'stringArray',
    default: ['*'],
    order: 9,
    markdown: true,
    description: 'Language ids that get inline completions (`"*"` = all), e.g. `["python", "typescript"]`.',
  },
  contextBudget: {
    type: 'integer',
    default: 1536,
    minimum: 64,
    maximum: 32768,
    order: 10,
    description:
      "Prompt budget in tokens (code before and after the cursor plus snippets from other files), capped by the model's context length.",
  },
  candidates: {
    type: 'integer',
    default: 3,
    minimum: 1,
    maximum: 8,
    order: 11,
    markdown: true,
    description:
      'Suggestions computed when completion is triggered by hand (Alt+\\\\); cycle through them with Alt+] and Alt+[. Automatic suggestions compute one.',
  },
  maxLines: {
    type: 'integer',
    default: 12,
    minimum: 1,
    maximum: 200,
    order: 12,
    description: 'Longest multi-line suggestion, in lines.',
  },
  crossFileContext: {
    type: 'boolean',
    default: true,
    order: 13,
    description: 'Add snippets of other open and recently edited files to the prompt.',
  },
  remoteCaFile: {
    type: 'string',
    default: '',
    order: 14,
    markdown: true,
    description:
      "Remote backends over https: a PEM file of extra CA certificates to trust (e.g. your company's CA), on top of Node's and the operating system's.",
  },
  remoteConnectTimeoutMs: {
    type: 'integer',
    default: REMOTE_TIMEOUT_DEFAULTS.connectTimeoutMs,
    minimum: 100,
    order: 15,
    description: 'Remote backends: how long to wait for the connection to the server, in milliseconds.',
  },
  remoteFirstTokenTimeoutMs: {
    type: 'integer',
    default: REMOTE_TIMEOUT_DEFAULTS.firstTokenTimeoutMs,
    minimum: 100,
    order: 16,
    description: 'Remote backends: how long to wait for the first token of an answer, in milliseconds (a busy 20B server can be slow).',
  },
  adapters: {
    type: 'stringArray',
    default: [],
    order: 17,
    markdown: true,
    description:
      'Local backend: Hugging Face PEFT LoRA adapter folders (`adapter_config.json`, `adapter_model.safetensors`; absolute paths) that "NeoX: Select model / backend" offers. The one chosen for a workspace (`neoxComplete.adapter`) is merged into the model\'s weights before quantization.',
  },
  chatFormat: {
    type: 'enum',
    values: ['auto', ...CHAT_FORMATS],
    default: 'auto',
    order: 18,
    enumDescriptions: [
      "Chosen from the checkpoint: its own chat_template, else the format its name (config.json, folder) is recognised as.",
      "The checkpoint's own chat_template (tokenizer_config.json).",
      'GPT-NeoXT-Chat-Base-20B: <human>: / <bot>: turns.',
      'Dolly-v2: its intro line, ### Instruction: / ### Response:.',
      'StableLM-Tuned-Alpha: its system prompt, <|USER|> / <|ASSISTANT|>.',
      'RedPajama-INCITE-Chat: <human>: / <bot>: turns.',
      'RedPajama-INCITE-Instruct: Q: / A:.',
      'Base models (GPT-NeoX-20B, Pythia, neox-code-23m): a few-shot User: / Assistant: transcript.',
    ],
    description: 'Chat: the prompt format the conversation is written in for the model.',
  },
  hubUrl: {
    type: 'string',
    default: '',
    order: 19,
    markdown: true,
    description:
      'Hugging Face Hub or a mirror of it that "NeoX: Download model" downloads from, e.g. `https://hf-mirror.example.com`. Empty: `HF_ENDPOINT`, else `https://huggingface.co`. The token for gated models is set with "NeoX: Set Hugging Face token" (kept in the OS keychain, never in settings; `HF_TOKEN` works too).',
  },
  remoteChatTemplate: {
    type: 'enum',
    values: REMOTE_CHAT_TEMPLATES,
    default: 'auto',
    order: 20,
    enumDescriptions: [
      "The server's chat template when the server reports one of the model's own (llama.cpp's server, in /props; its stock ChatML for a model without one does not count), else the model's format rendered here. Servers that report none (vLLM, TGI) are asked, and the format is rendered here when they refuse.",
      "Always the server's chat route and its chat template.",
      "The model family's format (neoxComplete.chatFormat, or recognised from the model's name) rendered here and sent as a plain completion.",
    ],
    description: 'Remote backends: who writes the chat prompt, the server (its chat template) or this extension (the model family\'s own format).',
  },
  adapter: {
    type: 'string',
    default: '',
    order: 21,
    markdown: true,
    description:
      'Local backend: the LoRA adapter folder merged into the model\'s weights, usually one of `neoxComplete.adapters`, chosen for this workspace with "NeoX: Select model / backend" (a workspace setting). Empty: none.',
  },
  'index.enabled': {
    type: 'boolean',
    default: true,
    order: 22,
    markdown: true,
    description:
      'Keep a semantic index of the workspace (in the editor\'s workspace storage, built in the background with the current model\'s embeddings): completions and chat then see related code from files that are not open, and "NeoX: Search workspace" searches it.',
  },
  'index.exclude': {
    type: 'stringArray',
    default: [],
    order: 23,
    markdown: true,
    description:
      'Files and folders the workspace index leaves out, as `.gitignore` patterns relative to the workspace folder (e.g. `vendor/`, `*.generated.ts`, `docs/**/*.md`), on top of every `.gitignore`, `.git/` and `node_modules/`. Binary, generated, minified and files over ' +
      `${INDEX_MAX_FILE_KB} KB are always left out.`,
  },
} as const satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SETTINGS;

/** The value type a table entry describes. */
type ValueOf<S> = S extends { type: 'boolean' }
  ? boolean
  : S extends { type: 'enum'; values: readonly (infer E)[] }
    ? E
    : S extends { type: 'string' }
      ? string
      : S extends { type: 'integer' | 'number' }
        ? number
        : S extends { type: 'numberOrAuto' }
          ? number | 'auto'
          : S extends { type: 'stringArray' }
            ? string[]
            : never;

/** Every setting of the section, resolved (what workspace/configuration answers, after defaults). */
export type NeoxSettings = { -readonly [K in SettingKey]: ValueOf<(typeof SETTINGS)[K]> };

/** The table's entries, in Settings UI order. */
export const SETTING_ENTRIES: [SettingKey, SettingSpec][] = (Object.entries(SETTINGS) as [SettingKey, SettingSpec][]).sort(
  (a, b) => a[1].order - b[1].order,
);

/** A fresh copy of a setting's default (arrays are not shared). */
export function defaultOf<K extends SettingKey>(key: K): NeoxSettings[K] {
  const d = SETTINGS[key].default as unknown;
  return (Array.isArray(d) ? [...d] : d) as NeoxSettings[K];
}

/** Values the server uses for any setting the client leaves out. */
export function defaultSettings(): NeoxSettings {
  return Object.fromEntries(SETTING_ENTRIES.map(([k]) => [k, defaultOf(k)])) as NeoxSettings;
}
export const DEFAULT_SETTINGS: Readonly<NeoxSettings> = Object.freeze(defaultSettings());

/** The `contributes.configuration` block of package.json, generated from the table. */
export function contributedConfiguration(): { title: string; properties: Record<string, Record<string, unknown>> } {
  const properties: Record<string, Record<string, unknown>> = {};
  for (const [key, s] of SETTING_ENTRIES) {
    let schema: Record<string, unknown>;
    switch (s.type) {
      case 'boolean':
        schema = { type: 'boolean' };
        break;
      case 'string':
        schema = { type: 'string' };
        break;
      case 'enum':
        schema = { type: 'string', enum: [...s.values] };
        break;
      case 'integer':
      case 'number':
        schema = { type: s.type };
        break;
      case 'numberOrAuto':
        schema = { anyOf: [{ type: 'number', minimum: s.minimum, maximum: s.maximum }, { type: 'string', enum: ['auto'] }] };
        break;
      case 'stringArray':
        schema = { type: 'array', items: { type: 'string' } };
        break;
    }
    const bounds = s.type === 'integer' || s.type === 'number' ? { minimum: s.minimum, ...(s.maximum === undefined ? {} : { maximum: s.maximum }) } : {};
    properties[`neoxComplete.${key}`] = {
      ...schema,
      default: defaultOf(key),
      ...bounds,
      order: s.order,
      ...(s.type === 'enum' ? { enumDescriptions: [...s.enumDescriptions] } : {}),
      [s.markdown ? 'markdownDescription' : 'description']: s.description,
    };
  }
  return { title: 'NeoX Complete', properties };
}
