/**
 * `neox serve`: the local engine as an OpenAI-compatible HTTP server (engine/serve/server.ts),
 * so one team machine can serve several editors. Logs one line per request on stderr;
 * SIGINT/SIGTERM stop accepting, let running requests finish, then exit.
 */
import { startServe } from '../serve/server';
import { formatRecord, formatRecordJson } from '../serve/context';
import { basename, resolve } from 'node:path';
import type { Command } from './command';
import { UsageError } from './command';
import { loadBackend, modelOptions, num, str } from './common';
import { defaultModelDir } from '../assets';

const command: Command = {
  summary: 'serve the local engine over an OpenAI-compatible HTTP API',
  usage: `neox serve [--model DIR] [--quant Q] [--host 127.0.0.1] [--port 8080] [--api-key KEY]

  --host H           address to listen on (default 127.0.0.1; 0.0.0.0 for the whole network)
  --port N           TCP port (default 8080; 0 = any free port, printed at start)
  --api-key KEY      require "Authorization: Bearer KEY" (also from $NEOX_API_KEY, which keeps
                     the key out of the process list). Repeatable (or comma-separated in $NEOX_API_KEY):
                     with several keys each has its own limits (--key-max-requests, --key-max-tokens)
  --model-name NAME  the model id clients send and /v1/models lists (default: the model folder's name)
  --batch N          requests generated together as one continuous batch: each joins at the next
                     step and leaves when done (default 4; 1 = one at a time). On 2 cores, 4 rows
                     decode in about the time of 1.4.
  --max-queue N      requests allowed to wait before 429 (default 16)
  --max-request-tokens N   generated tokens (max_tokens x n) one request may ask for; more gets 400
                     (default 4 x the context length)
  --max-tokens-in-flight N prompt + generated tokens of all running and queued requests; a request
                     past it gets 429 (default 8 x the context length)
  --key-max-requests N     with several keys: requests one key may have running or queued (default
                     its share of --batch + --max-queue)
  --key-max-tokens N       with several keys: tokens one key may have in flight (default its share of
                     --max-tokens-in-flight)
  --max-body BYTES   largest request body (default 1048576; larger ones get 413)
  --grace-ms N       on SIGINT/SIGTERM, how long running requests may finish (default 10000)
  --allowed-host H   a Host name clients may use besides 127.0.0.1, localhost, [::1] and the bound address
                     (repeatable; '*' = any). Other Host headers get 403 (DNS rebinding)
  --allow-origin O   a browser origin (https://app.example) allowed to call, with CORS and preflight
                     (repeatable; '*' = any). Requests with any other Origin get 403
  --log-format F     text (default) or json: one JSON object per request line on stderr
  --quiet            no per-request log lines

Routes: GET /v1/models, POST /v1/completions, POST /v1/chat/completions (stream or not), GET /health.`,
  options: {
    ...modelOptions,
    host: { type: 'string' },
    port: { type: 'string' },
    'api-key': { type: 'string', multiple: true },
    'model-name': { type: 'string' },
    batch: { type: 'string' },
    'max-queue': { type: 'string' },
    'max-request-tokens': { type: 'string' },
    'max-tokens-in-flight': { type: 'string' },
    'key-max-requests': { type: 'string' },
    'key-max-tokens': { type: 'string' },
    'max-body': { type: 'string' },
    'grace-ms': { type: 'string' },
    'allowed-host': { type: 'string', multiple: true },
    'allow-origin': { type: 'string', multiple: true },
    'log-format': { type: 'string' },
    quiet: { type: 'boolean' },
  },
  async run({ values, signal }) {
    const port = num(values, 'port', { int: true, min: 0, max: 65535 }) ?? 8080;
    const host = str(values, 'host') ?? '127.0.0.1';
    const list = (name: string) => (Array.isArray(values[name]) ? (values[name] as string[]) : []);
    const apiKeys = list('api-key').length ? list('api-key') : (process.env.NEOX_API_KEY?.split(',') ?? []);
    if (apiKeys.some((k) => k.trim() === '')) throw new UsageError('--api-key must not be empty');
    const apiKey = apiKeys.length > 0;
    const batch = num(values, 'batch', { int: true, min: 1, max: 64 }) ?? 4;
    const maxQueue = num(values, 'max-queue', { int: true, min: 0 }) ?? 16;
    const maxBodyBytes = num(values, 'max-body', { int: true, min: 1024 }) ?? 1024 * 1024;
    const shutdownGraceMs = num(values, 'grace-ms', { int: true, min: 0 }) ?? 10000;
    const quiet = values.quiet === true;
    const logFormat = str(values, 'log-format') ?? 'text';
    if (logFormat !== 'text' && logFormat !== 'json') throw new UsageError(`--log-format must be text or json (got "${logFormat}")`);

    const backend = await loadBackend(values, { maxBatch: batch });
    const log = (line: string) => process.stderr.write(`neox serve: ${line}\n`);
    const server = await startServe(backend, {
      host,
      port,
      apiKeys,
      modelName: str(values, 'model-name') ?? basename(resolve(str(values, 'model') ?? defaultModelDir())),
      concurrency: batch, // as many as a batch holds reach the engine at once; the rest queue here
      maxQueue,
      maxRequestTokens: num(values, 'max-request-tokens', { int: true, min: 1 }),
      maxTokensInFlight: num(values, 'max-tokens-in-flight', { int: true, min: 1 }),
      keyMaxRequests: num(values, 'key-max-requests', { int: true, min: 1 }),
      keyMaxTokens: num(values, 'key-max-tokens', { int: true, min: 1 }),
      maxBodyBytes,
      shutdownGraceMs,
      allowedHosts: list('allowed-host'),
      allowOrigins: list('allow-origin'),
      onRequest: quiet ? undefined : logFormat === 'json' ? (r) => process.stderr.write(formatRecordJson(r) + '\n') : (r) => log(formatRecord(r)),
    }).catch(async (e) => {
      await backend.dispose();
      throw e;
    });
    log(`listening on ${server.url} (model ${server.model.id}, context ${server.model.contextLength}, batch ${batch}${apiKey ? `, API key required (${apiKeys.length} key${apiKeys.length > 1 ? 's, each with its own limits' : ''})` : ''})`);
    if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1' && !apiKey) {
      log(`warning: listening on ${host} without an API key: anyone who can reach this port can use it`);
    }

    // SIGINT arrives through `signal` (the CLI's handler); SIGTERM is what docker/systemd send.
    const stop = await new Promise<string>((resolve) => {
      if (signal.aborted) return resolve('SIGINT'); // Ctrl-C while the model was loading
      signal.addEventListener('abort', () => resolve('SIGINT'), { once: true });
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    log(`${stop}: finishing ${server.stats().running + server.stats().queued} request(s), then stopping`);
    try {
      await server.close();
    } finally {
      await backend.dispose();
    }
    const s = server.stats();
    log(`stopped after ${s.requests} request(s) (${s.completed} completed, ${s.cancelled} cancelled, ${s.rejectedQueueFull + s.rejectedOverLimit} refused with 429)`);
    return 0;
  },
};

export default command;
