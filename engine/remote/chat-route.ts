/**
 * Where a chat against an OpenAI-compatible server is rendered (RemoteSettings.chatTemplate, the
 * neoxComplete.remoteChatTemplate setting):
 * - 'server': the server's /v1/chat/completions, with the server's chat template;
 * - 'local': the model family's own format (engine/chat-template.ts, chosen from the model id or
 *   neoxComplete.chatFormat) rendered here and sent to /v1/completions;
 * - 'auto': the server's template when the server reports one of the model's own, else local.
 *   llama.cpp's server reports its template in GET /props, and for a model without one it reports
 *   its stock ChatML: a GPT-NeoX base model has never seen that format (it writes `<|im_end>>`
 *   lines), so that template counts as none. vLLM, TGI and `neox serve` have no /props; their chat
 *   route applies the model's own template and refuses a model without one, which ChatFallback
 *   turns into local rendering, so 'auto' uses the server there.
 */
import type { RemoteChatTemplate } from '../types';

export type ChatRoute = Exclude<RemoteChatTemplate, 'auto'>;

/**
 * llama.cpp's stock template (common/chat.cpp, CHATML_TEMPLATE_SRC), which its server reports for a
 * model whose GGUF has no tokenizer.chat_template.
 */
const LLAMA_CPP_STOCK_CHATML =
  "{%- for message in messages -%}\n  {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' -}}\n{%- endfor -%}\n{%- if add_generation_prompt -%}\n  {{- '<|im_start|>assistant\n' -}}\n{%- endif -%}";

/** Whitespace and escaped newlines removed: a template written with either compares equal. */
const squeeze = (t: string) => t.replace(/\\n|\s+/g, '');

/**
 * The route for 'auto' from a GET /props answer: 'local' when it reports an empty or llama.cpp's stock
 * template; 'server' otherwise (a template of the model's own, or a /props that says nothing of one).
 */
export function chatRouteFromProps(props: unknown): ChatRoute {
  const template = (props as { chat_template?: unknown } | null)?.chat_template;
  if (typeof template !== 'string') return 'server';
  if (!template.trim()) return 'local';
  return squeeze(template) === squeeze(LLAMA_CPP_STOCK_CHATML) ? 'local' : 'server';
}
