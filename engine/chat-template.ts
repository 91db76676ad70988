/**
 * Chat prompt formats: choosing one for a checkpoint and rendering a conversation in it.
 * The formats themselves are data (snippets/chat/formats.json and its *.jinja templates); the
 * checkpoint's own chat_template (tokenizer_config.json) comes before all of them. Every template
 * is rendered with @huggingface/jinja, with `messages`, `add_generation_prompt`, `bos_token`, `eos_token`.
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Template } from '@huggingface/jinja';
import type { ChatFormat, ChatMessage } from './types';
import { CHAT_FORMATS, NeoxError } from './types';
import { assetPath } from './assets';

export interface ChatTemplate {
  /** The format's name (CHAT_FORMATS), reported with each chat answer. */
  name: ChatFormat;
  /** Its name for people, e.g. "Dolly-v2". */
  label: string;
  render(messages: ChatMessage[]): string;
  /** Stop strings that end the model's turn (the start of the user's next one). */
  stop: string[];
  /** Where the template comes from (a file, or tokenizer_config.json's chat_template). */
  source: string;
}

/** What a checkpoint tells about its chat format. */
export interface CheckpointFacts {
  /** config.json _name_or_path, the model folder's path, tokenizer_config.json name_or_path, a remote model id. */
  names: string[];
  /** tokenizer_config.json (or {}), for chat_template, bos/eos tokens and added special tokens. */
  tokenizerConfig: Record<string, unknown>;
  /** Its path, to name it in errors. */
  tokenizerConfigFile: string;
}

interface FormatSpec {
  name: ChatFormat;
  label: string;
  template: string;
  stop: string[];
  match?: string[];
  tokens?: string[];
}
interface FormatsFile {
  default: ChatFormat;
  formats: FormatSpec[];
}

let formatsFile: FormatsFile | undefined;

/** snippets/chat/formats.json, checked once. */
export function builtinFormats(): FormatsFile {
  if (formatsFile) return formatsFile;
  const file = assetPath('snippets', 'chat', 'formats.json');
  let json: FormatsFile;
  try {
    json = JSON.parse(readFileSync(file, 'utf8')) as FormatsFile;
  } catch (e) {
    throw new NeoxError(`${file}: cannot read the chat formats (${(e as Error).message})`, 'bad_chat_template');
  }
  const known = new Set<string>(CHAT_FORMATS);
  for (const f of json.formats ?? []) {
    if (!known.has(f.name) || f.name === 'checkpoint') throw new NeoxError(`${file}: unknown chat format "${f.name}"`, 'bad_chat_template');
    if (typeof f.template !== 'string' || !Array.isArray(f.stop)) throw new NeoxError(`${file}: format "${f.name}" needs a template and a stop list`, 'bad_chat_template');
  }
  if (!json.formats.some((f) => f.name === json.default)) throw new NeoxError(`${file}: default "${json.default}" is not a format`, 'bad_chat_template');
  return (formatsFile = json);
}

function tokenText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return '';
}

/** The special tokens tokenizer_config.json declares (added_tokens_decoder, additional_special_tokens). */
function declaredTokens(config: Record<string, unknown>): Set<string> {
  const out = new Set<string>();
  const decoder = config.added_tokens_decoder;
  if (decoder && typeof decoder === 'object') for (const v of Object.values(decoder)) out.add(tokenText(v));
  const extra = config.additional_special_tokens;
  if (Array.isArray(extra)) for (const v of extra) out.add(tokenText(v));
  return out;
}

/** The checkpoint's own chat_template (string, or the list form's "default" entry, else its first), if any. */
function ownTemplate(config: Record<string, unknown>, configFile: string): { src: string; source: string } | undefined {
  const own = config.chat_template;
  if (typeof own === 'string' && own.trim()) return { src: own, source: `${configFile} chat_template` };
  if (Array.isArray(own) && own.length > 0) {
    const entries = own as { name?: string; template?: string }[];
    const pick = entries.find((e) => e.name === 'default') ?? entries[0]!;
    return { src: pick.template ?? '', source: `${configFile} chat_template "${pick.name ?? 0}"` };
  }
  return undefined;
}

/** The built-in format a checkpoint is recognised as (formats.json `match` / `tokens`), else the default. */
export function recogniseChatFormat(facts: CheckpointFacts): ChatFormat {
  const { formats, default: fallback } = builtinFormats();
  const names = facts.names.filter(Boolean);
  const tokens = declaredTokens(facts.tokenizerConfig);
  for (const f of formats) {
    if (f.match?.some((re) => names.some((n) => new RegExp(re, 'i').test(n)))) return f.name;
    if (f.tokens?.length && f.tokens.every((t) => tokens.has(t))) return f.name;
  }
  return fallback;
}

const compiled = new Map<string, Template>();

function compile(src: string, source: string): Template {
  let t = compiled.get(src);
  if (t) return t;
  try {
    t = new Template(src);
  } catch (e) {
    throw new NeoxError(`${source}: invalid chat template (${(e as Error).message})`, 'bad_chat_template');
  }
  compiled.set(src, t);
  return t;
}

function makeTemplate(name: ChatFormat, label: string, src: string, source: string, stop: string[], config: Record<string, unknown>): ChatTemplate {
  const template = compile(src, source);
  const specials = { bos_token: tokenText(config.bos_token), eos_token: tokenText(config.eos_token) };
  return {
    name,
    label,
    source,
    stop,
    render(messages) {
      try {
        return template.render({ messages, add_generation_prompt: true, ...specials });
      } catch (e) {
        throw new NeoxError(`${source}: chat template failed (${(e as Error).message})`, 'bad_chat_template');
      }
    },
  };
}

const CHECKPOINT_LABEL = "the checkpoint's chat_template";

/** What the chat view calls the format a chat answer reports (CompletionResult.chatFormat): its formats.json label. */
export function chatFormatLabel(name: string): string {
  if (name === 'checkpoint') return CHECKPOINT_LABEL;
  if (name === 'server') return "the server's chat template";
  return builtinFormats().formats.find((f) => f.name === name)?.label ?? name;
}

/** A built-in format by name. */
export function builtinChatTemplate(name: Exclude<ChatFormat, 'checkpoint'>, tokenizerConfig: Record<string, unknown> = {}): ChatTemplate {
  const spec = builtinFormats().formats.find((f) => f.name === name);
  if (!spec) throw new NeoxError(`unknown chat format "${name}" (known: ${CHAT_FORMATS.join(', ')})`, 'bad_request');
  const file = assetPath('snippets', 'chat', spec.template);
  let src: string;
  try {
    src = readFileSync(file, 'utf8');
  } catch (e) {
    throw new NeoxError(`${file}: cannot read the chat template (${(e as Error).message})`, 'bad_chat_template');
  }
  return makeTemplate(spec.name, spec.label, src, file, [...spec.stop], tokenizerConfig);
}

/**
 * The template for a checkpoint: `requested` when it names a format ('checkpoint' needs a
 * chat_template), else ('auto' or absent) the checkpoint's own chat_template, else the built-in
 * format it is recognised as.
 */
export function chatTemplateFor(facts: CheckpointFacts, requested?: string): ChatTemplate {
  const config = facts.tokenizerConfig;
  const req = requested && requested !== 'auto' ? requested : undefined;
  if (req !== undefined && !(CHAT_FORMATS as readonly string[]).includes(req)) {
    throw new NeoxError(`unknown chat format "${req}" (known: auto, ${CHAT_FORMATS.join(', ')})`, 'bad_request');
  }
  const own = ownTemplate(config, facts.tokenizerConfigFile);
  if (req === 'checkpoint' || (req === undefined && own)) {
    if (!own) throw new NeoxError(`chat format "checkpoint": ${facts.tokenizerConfigFile} has no chat_template`, 'bad_request');
    return makeTemplate('checkpoint', CHECKPOINT_LABEL, own.src, own.source, [], config);
  }
  return builtinChatTemplate((req ?? recogniseChatFormat(facts)) as Exclude<ChatFormat, 'checkpoint'>, config);
}

/** The facts of a local checkpoint folder: its config.json _name_or_path, its path, its tokenizer_config.json. */
export function localCheckpointFacts(modelDir: string, tokenizerConfig: Record<string, unknown>): CheckpointFacts {
  // The folder's last three parts: a Hugging Face cache snapshot is models--ORG--NAME/snapshots/COMMIT.
  const names = [modelDir.split(/[\\/]+/).filter(Boolean).slice(-3).join('/'), basename(modelDir)];
  try {
    const config = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    if (typeof config._name_or_path === 'string') names.unshift(config._name_or_path);
  } catch {
    // loading has already checked config.json; a name is only a hint
  }
  for (const k of ['name_or_path', '_name_or_path']) if (typeof tokenizerConfig[k] === 'string') names.push(tokenizerConfig[k] as string);
  return { names, tokenizerConfig, tokenizerConfigFile: join(modelDir, 'tokenizer_config.json') };
}
