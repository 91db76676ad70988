/**
 * Chat against a base model. vLLM (transformers >= 4.44) and TGI refuse /v1/chat/completions
 * for a checkpoint without a chat template, which is the case of GPT-NeoX-20B itself. Then we
 * render the conversation with the built-in format (engine/chat-template.ts, snippets/chat) that the
 * model id the server reports (/v1/models, TGI /info) is recognised as, like a local checkpoint's
 * name (formats.json `match`; no match: its default), and run it as a plain completion, stopping
 * where the format's next user turn starts. A request that names a format (not 'auto') is always
 * rendered here, in that format.
 */
import { chatTemplateFor } from '../chat-template';
import type { ChatRequest, CompletionRequest, CompletionResult, TextChunk } from '../types';
import { NeoxError } from '../types';

/** The server's answer when it has no chat template (or no chat route at all). */
function isNoChatTemplate(e: unknown): boolean {
  if (!(e instanceof NeoxError)) return false;
  if (e.code === 'http_404') return true;
  return (e.code === 'http_400' || e.code === 'http_422' || e.code === 'http_500') && /template/i.test(e.message);
}

export class ChatFallback {
  /** Set once the server said it cannot do chat: later chats go straight to the template. */
  active = false;

  async run(
    req: ChatRequest,
    onChunk: ((c: TextChunk) => void) | undefined,
    viaServer: () => Promise<CompletionResult>,
    complete: (r: CompletionRequest, onChunk?: (c: TextChunk) => void) => Promise<CompletionResult>,
    /** The model id the server reports, to recognise its format (GPT-NeoX-20B: the base-model frame, Dolly-v2: its own). */
    modelId?: string,
  ): Promise<CompletionResult> {
    const named = req.format && req.format !== 'auto' && req.format !== 'checkpoint';
    if (!this.active && !named) {
      try {
        return { ...(await viaServer()), chatFormat: 'server' };
      } catch (e) {
        if (!isNoChatTemplate(e)) throw e;
        this.active = true;
      }
    }
    const template = chatTemplateFor({ names: modelId ? [modelId] : [], tokenizerConfig: {}, tokenizerConfigFile: 'remote model' }, named ? req.format : 'auto');
    const { messages, format: _f, ...rest } = req;
    const r = await complete({ ...rest, prompt: template.render(messages), stop: [...(req.stop ?? []), ...template.stop] }, onChunk);
    return { ...r, chatFormat: template.name };
  }
}
