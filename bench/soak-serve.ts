/**
 * `npm run soak:serve [-- --minutes 10 --rate 4 --max-inflight 6 --seed 1]`: a real `neox serve`
 * (child process, default model, int8, --batch 4, an API key) under mixed traffic for --minutes
 * (10): streamed and whole completions, chat, n=2, long streams, requests cancelled mid-stream,
 * clients that disconnect mid-stream, connections that send nothing, and bad requests (broken JSON,
 * a wrong field, a wrong key, text/plain, too many tokens), started at --rate per second with at most
 * --max-inflight at once. Each kind has the answer it must get; anything else is an unexpected error.
 *
 * Prints one JSON object: requests by kind and outcome, the unexpected errors, the server's RSS after
 * warm-up, at the end and at its peak (flat: the end within 10% of the start), and that nothing is
 * left running: /health shows no request running or queued once the traffic has drained, the server
 * exits 0 on SIGTERM and its port then refuses connections. Exit code 1 when a check fails.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { parseArgs } from 'node:util';
import { createRemoteBackend } from '../engine/remote/index';
import { startServeProcess } from '../test/remote/serve-process';
import { evalPrompts, r1, rssMb, seededRandom } from './serve-lib';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '4' },
    'max-inflight': { type: 'string', default: '6' },
    seed: { type: 'string', default: '1' },
    'warmup-minutes': { type: 'string' },
  },
});
const minutes = Number(values.minutes);
// RSS "at start" is taken once the traffic has run this long: caches, arenas and the JIT reach their
// working size first (a high-water mark is not a leak).
const warmupMinutes = values['warmup-minutes'] === undefined ? Math.min(1, minutes / 10) : Number(values['warmup-minutes']);
const rate = Number(values.rate);
const maxInflight = Number(values['max-inflight']);
if (!(minutes > 0) || !(rate > 0) || !(maxInflight >= 1)) throw new Error('--minutes and --rate must be positive, --max-inflight at least 1');
const random = seededRandom(Number(values.seed));
const log = (m: string) => process.stderr.write(`soak:serve: ${m}\n`);

const KEY = 'soak-key';
const prompts = evalPrompts(300);
const prompt = () => prompts[Math.floor(random() * prompts.length)]!;
const serve = await startServeProcess(['--quant', 'int8', '--quiet', '--batch', '4', '--max-queue', '16'], { NEOX_API_KEY: KEY });
const pid = serve.child.pid!;
const client = createRemoteBackend({ kind: 'openai', url: serve.url, apiKey: KEY, maxRetries: 0, firstTokenTimeoutMs: 120000 });
await client.load();
let rssStart: number | undefined;
let rssPeak = rssMb(pid) ?? 0;
const rssTrace: [number, number | undefined][] = [];
log(`serving at ${serve.url}, RSS ${rssPeak} MB; ${minutes} min at ${rate}/s, RSS "at start" after ${warmupMinutes} min`);

/** One raw request (headers as given); resolves with the status, or 'disconnected' when `cut` drops it after the first body bytes. */
function raw(body: string, headers: Record<string, string>, cut = false): Promise<number | 'disconnected'> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${serve.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, ...headers }, agent: false }, (res) => {
      if (cut) {
        res.once('data', () => {
          req.destroy();
          resolve('disconnected');
        });
        res.once('end', () => resolve(res.statusCode ?? 0));
      } else {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
      }
    });
    req.on('error', (e) => (cut ? resolve('disconnected') : reject(e)));
    req.end(body);
  });
}

/** A connection that never sends a byte: resolves once the server closes it. */
function silent(): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(new URL(serve.url).port), '127.0.0.1');
    s.on('error', reject);
    s.on('close', () => resolve('closed by the server'));
  });
}

const tokens = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
type Outcome = string;
/** Each kind of traffic: its weight, and what it does, resolving with its outcome (a thrown error is unexpected). */
const KINDS: [string, number, () => Promise<Outcome>][] = [
  ['stream', 30, async () => (await client.complete({ prompt: prompt(), maxTokens: tokens(4, 32) }, () => {})).choices[0]!.finishReason],
  ['whole', 10, async () => (await client.complete({ prompt: prompt(), maxTokens: tokens(4, 32) })).choices[0]!.finishReason],
  ['chat', 8, async () => (await client.chat({ messages: [{ role: 'user', content: 'Write a function that reverses a list.' }], maxTokens: tokens(8, 32) }, () => {})).choices[0]!.finishReason],
  ['n2', 5, async () => (await client.complete({ prompt: prompt(), maxTokens: tokens(4, 16), n: 2, temperature: 0.8 }, () => {})).choices.map((c) => c.finishReason).join('+')],
  ['long', 4, async () => (await client.complete({ prompt: prompt(), maxTokens: 300 }, () => {})).choices[0]!.finishReason],
  [
    'cancel',
    10,
    async () => {
      const ac = new AbortController();
      const r = await client.complete({ prompt: prompt(), maxTokens: 200, signal: ac.signal }, () => ac.abort());
      return r.choices[0]!.finishReason;
    },
  ],
  ['disconnect', 10, async () => String(await raw(JSON.stringify({ prompt: prompt(), max_tokens: 200, stream: true }), {}, true))],
  ['silent', 2, silent],
  ['bad-json', 4, async () => String(await raw('{"prompt": "x", "max_tokens": ', {}))],
  ['bad-field', 4, async () => String(await raw(JSON.stringify({ prompt: 'x', max_tokens: 'many' }), {}))],
  ['wrong-key', 4, async () => String(await raw(JSON.stringify({ prompt: 'x', max_tokens: 4 }), { authorization: 'Bearer nope' }))],
  ['text-plain', 3, async () => String(await raw('prompt=x', { 'content-type': 'text/plain' }))],
  ['too-many', 2, async () => String(await raw(JSON.stringify({ prompt: 'x', max_tokens: 2000, n: 16 }), {}))],
];
/** The outcomes each kind may have; a 429 (server busy) is allowed for any generation. */
const EXPECTED: Record<string, RegExp> = {
  stream: /^(length|stop|eos)$/,
  whole: /^(length|stop|eos)$/,
  chat: /^(length|stop|eos)$/,
  n2: /^((length|stop|eos)\+?)+$/,
  long: /^(length|stop|eos)$/,
  cancel: /^(cancelled|length|stop|eos)$/,
  disconnect: /^(disconnected|200)$/,
  silent: /^closed by the server$/,
  'bad-json': /^400$/,
  'bad-field': /^400$/,
  'wrong-key': /^401$/,
  'text-plain': /^415$/,
  'too-many': /^400$/,
};
const totalWeight = KINDS.reduce((a, [, w]) => a + w, 0);
const pick = () => {
  let x = random() * totalWeight;
  for (const k of KINDS) if ((x -= k[1]) < 0) return k;
  return KINDS[0]!;
};

const outcomes: Record<string, Record<string, number>> = {};
const unexpected: { kind: string; what: string }[] = [];
let started = 0;
let inflight = 0;
let skipped = 0;
const count = (kind: string, outcome: string) => ((outcomes[kind] ??= {})[outcome] = (outcomes[kind]![outcome] ?? 0) + 1);
const running = new Set<Promise<void>>();
const deadline = Date.now() + minutes * 60_000;
const t0 = Date.now();

await new Promise<void>((resolve) => {
  let nextTrace = t0;
  const tick = setInterval(() => {
    const rss = rssMb(pid);
    if (rss !== undefined) rssPeak = Math.max(rssPeak, rss);
    if (rssStart === undefined && Date.now() - t0 >= warmupMinutes * 60_000) rssStart = rss;
    if (Date.now() >= nextTrace) {
      rssTrace.push([Math.round((Date.now() - t0) / 1000), rss]);
      log(`${Math.round((Date.now() - t0) / 1000)} s: ${started} requests, RSS ${rss} MB`);
      nextTrace += 10_000;
    }
    if (Date.now() >= deadline) {
      clearInterval(tick);
      return resolve();
    }
    if (inflight >= maxInflight) return void skipped++;
    const [kind, , run] = pick();
    started++;
    inflight++;
    const p: Promise<void> = run()
      .then(
        (o) => {
          count(kind, o);
          if (!EXPECTED[kind]!.test(o)) unexpected.push({ kind, what: `outcome ${o}` });
        },
        (e: Error) => {
          const busy = /answered 429|gave up after/.test(e.message);
          count(kind, busy ? '429' : 'error');
          if (!busy) unexpected.push({ kind, what: e.message });
        },
      )
      .finally(() => {
        inflight--;
        running.delete(p);
      });
    running.add(p);
  }, 1000 / rate);
});
while (running.size) await Promise.race(running);

const health = await fetch(`${serve.url}/health`).then((r) => r.json() as Promise<{ running: number; queued: number }>);
const rssEnd = rssMb(pid);
await client.dispose();
const exitCode = await serve.stop();
const portClosed = await new Promise<boolean>((resolve) => {
  const s = net.connect(Number(new URL(serve.url).port), '127.0.0.1');
  s.once('connect', () => (s.destroy(), resolve(false)));
  s.once('error', () => resolve(true));
});

const served = Object.values(outcomes).reduce((a, o) => a + Object.entries(o).filter(([k]) => /^(length|stop|eos)/.test(k)).reduce((b, [, n]) => b + n, 0), 0);
const rssFlat = rssStart !== undefined && rssEnd !== undefined && rssEnd <= rssStart * 1.1;
const nothingLeft = health.running === 0 && health.queued === 0 && exitCode === 0 && portClosed;
const report = {
  soak: 'serve',
  minutes,
  seconds: Math.round((Date.now() - t0) / 1000),
  rate,
  maxInflight,
  requests: started,
  served,
  skippedTicks: skipped,
  outcomes,
  unexpectedErrors: unexpected.length,
  unexpected: unexpected.slice(0, 20),
  rssMb: { start: rssStart, startAfterMinutes: warmupMinutes, end: rssEnd, peak: r1(rssPeak), flat: rssFlat, every10s: rssTrace },
  afterTraffic: { running: health.running, queued: health.queued, exitCode, portClosed, nothingLeft },
  pass: unexpected.length === 0 && rssFlat && nothingLeft,
};
console.log(JSON.stringify(report, null, 2));
process.exit(report.pass ? 0 : 1);
