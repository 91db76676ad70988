/**
 * The Hugging Face conventions read from the environment, as huggingface_hub reads them:
 * HF_ENDPOINT (a mirror), HF_TOKEN (else HUGGING_FACE_HUB_TOKEN, else the file `huggingface-cli login`
 * writes: HF_TOKEN_PATH, else HF_HOME/token), HF_HUB_OFFLINE. The token is only ever put in an
 * Authorization header: never in a message, a log line or a URL.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

/** Base URL of the Hub or of a mirror, without a trailing slash. */
export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return (env.HF_ENDPOINT?.trim() || DEFAULT_ENDPOINT).replace(/\/+$/, '');
}

/** huggingface_hub's HF_HOME: HF_HOME, else XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
export function hfHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.HF_HOME || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'huggingface');
}

/** The access token for gated and private models, or undefined. */
export function hubToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env.HF_TOKEN?.trim() || env.HUGGING_FACE_HUB_TOKEN?.trim();
  if (fromEnv) return fromEnv;
  try {
    const saved = readFileSync(env.HF_TOKEN_PATH || join(hfHome(env), 'token'), 'utf8').trim();
    return saved || undefined;
  } catch {
    return undefined;
  }
}

/** HF_HUB_OFFLINE=1 (or true/yes/on): never touch the network. */
export function isOffline(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(1|true|yes|on)$/i.test(env.HF_HUB_OFFLINE?.trim() ?? '');
}
