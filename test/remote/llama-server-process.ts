/**
 * A real llama.cpp server (../shared/peer's build, or NEOX_LLAMA_CPP=<build folder>) started for a test
 * on a free loopback port. Every way it cannot start throws an Error saying why (missing binary, a
 * binary this processor cannot run, a server that exits or never becomes ready), with its log's tail.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PEER } from '../../bench/peer-gguf';

export interface LlamaServer {
  url: string;
  child: ChildProcess;
  /** Everything it printed so far. */
  log(): string;
  stop(): Promise<void>;
}

/** llama-server in the build folder (NEOX_LLAMA_CPP, else ../shared/peer/llama.cpp), checked to run here. */
export function llamaServerBinary(): string {
  const dir = process.env.NEOX_LLAMA_CPP || PEER.llamaCpp;
  const candidates = [join(dir, 'bin', 'llama-server'), join(dir, 'llama-server')];
  const bin = candidates.find((p) => existsSync(p));
  if (!bin) throw new Error(`llama-server not found (looked for ${candidates.join(', ')}): set NEOX_LLAMA_CPP to a llama.cpp build folder`);
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) {
    const why = r.error?.message ?? (r.signal ? `killed by ${r.signal} (an instruction this processor lacks?)` : `exit ${r.status}`);
    throw new Error(`${bin} cannot run on this machine: ${why}\n${tail(`${r.stdout ?? ''}${r.stderr ?? ''}`)}`);
  }
  return bin;
}

/** Starts llama-server on `gguf` and resolves once it has loaded the model and listens. */
export async function startLlamaServer(gguf: string, opts: { slots?: number; threads?: number; ctxPerSlot?: number; readyMs?: number } = {}): Promise<LlamaServer> {
  const bin = llamaServerBinary();
  const port = await freePort();
  const slots = opts.slots ?? 1;
  const args = ['-m', gguf, '--host', '127.0.0.1', '--port', String(port), '-t', String(opts.threads ?? 1), '-np', String(slots), '-c', String(slots * (opts.ctxPerSlot ?? 2048))];
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  // It prints this line once the model is loaded and the slots are ready.
  const ready = `server is listening on ${url}`;
  await new Promise<void>((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      void stop().then(() => reject(new Error(`llama-server ${args.join(' ')}: ${why}\n${tail(out)}`)));
    };
    const timer = setTimeout(() => fail(`not ready within ${opts.readyMs ?? 60_000} ms`), opts.readyMs ?? 60_000);
    const check = () => {
      if (!out.includes(ready)) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      child.stderr!.off('data', check);
      child.off('exit', onExit);
      resolve();
    };
    const onExit = (code: number | null, signal: string | null) => fail(`exited (${code ?? signal}) before it was ready`);
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', onExit);
    child.once('error', (e) => fail(e.message));
  });
  return { url, child, log: () => out, stop };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const tail = (text: string) => text.trim().split('\n').slice(-15).join('\n');
