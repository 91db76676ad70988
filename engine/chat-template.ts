/**
 * Chat prompt rendering: the checkpoint's own chat_template (tokenizer_config.json) when it
 * has one, else the GPT-NeoXT-Chat style default kept as data in snippets/chat/neoxt-chat.jinja.
 */
import { readFileSync } from 'node:fs';
import { Template } from '@huggingface/jinja';
import type { ChatMessage } from './types';
import { NeoxError } from './types';
import { assetPath } from './assets';

export interface ChatTemplate {
  render(messages: ChatMessage[]): string;
  /** Extra stop strings the template's turn format implies (the next user turn). */
  stop: string[];
  source: string;
}

function tokenText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return '';
}

/** Pick and compile the template for a checkpoint whose tokenizer_config.json is `config`. */
export function chatTemplateFor(config: Record<string, unknown>, configFile: string): ChatTemplate {
  let src: string;
  let source: string;
  let stop: string[] = [];
  const own = config.chat_template;
  if (typeof own === 'string') {
    src = own;
    source = `${configFile} chat_template`;
  } else if (Array.isArray(own) && own.length > 0) {
    // list form [{name, template}]: the "default" entry, else the first
    const entries = own as { name?: string; template?: string }[];
    const pick = entries.find((e) => e.name === 'default') ?? entries[0]!;
    src = pick.template ?? '';
    source = `${configFile} chat_template "${pick.name ?? 0}"`;
  } else {
    source = assetPath('snippets', 'chat', 'neoxt-chat.jinja');
    src = readFileSync(source, 'utf8');
    stop = ['\n<human>:'];
  }
  let template: Template;
  try {
    template = new Template(src);
  } catch (e) {
    throw new NeoxError(`${source}: invalid chat template (${(e as Error).message})`, 'bad_chat_template');
  }
  const specials = { bos_token: tokenText(config.bos_token), eos_token: tokenText(config.eos_token) };
  return {
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
