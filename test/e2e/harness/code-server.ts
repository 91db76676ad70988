/**
 * A code-server (VS Code 1.100.3 in the browser) for one test run: its own HOME, TMPDIR, user-data and
 * extensions folders under the run folder, bound to a loopback port, in its own process group so that
 * stopping it stops everything it started (extension hosts, language servers).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';

export interface CodeServerDirs {
  home: string;
  tmp: string;
  userData: string;
  extensions: string;
  logs: string;
  /** HF_HUB_CACHE of the editor: models downloaded in a run land here, never in the user's cache. */
  hfCache: string;
}

export function makeDirs(runDir: string): CodeServerDirs {
  const d = {
    home: join(runDir, 'home'),
    tmp: join(runDir, 'tmp'),
    userData: join(runDir, 'user-data'),
    extensions: join(runDir, 'extensions'),
    logs: join(runDir, 'logs'),
    hfCache: join(runDir, 'hf-cache'),
  };
  for (const p of Object.values(d)) mkdirSync(p, { recursive: true });
  return d;
}

/** The Hugging Face variables of the user's shell that would reach a Hub, or a cache, of theirs. */
const USER_HF_VARS = ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_TOKEN_PATH', 'HF_ENDPOINT', 'HF_HUB_OFFLINE', 'HUGGINGFACE_HUB_CACHE'];

function env(dirs: CodeServerDirs): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: dirs.home,
    TMPDIR: dirs.tmp,
    XDG_CACHE_HOME: join(dirs.home, '.cache'),
    XDG_CONFIG_HOME: join(dirs.home, '.config'),
    HF_HOME: join(dirs.home, '.cache', 'huggingface'),
    HF_HUB_CACHE: dirs.hfCache,
  };
  for (const k of USER_HF_VARS) delete e[k];
  return e;
}

export function installExtension(bin: string, dirs: CodeServerDirs, vsix: string): void {
  const r = spawnSync(
    process.execPath,
    [bin, '--extensions-dir', dirs.extensions, '--user-data-dir', dirs.userData, '--install-extension', vsix, '--force'],
    { env: env(dirs), encoding: 'utf8' },
  );
  if (r.status !== 0 || !/successfully installed/i.test(r.stdout + r.stderr)) {
    throw new Error(`code-server --install-extension ${vsix} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
}

export interface RunningCodeServer {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startCodeServer(bin: string, dirs: CodeServerDirs, port: number, workspace: string): Promise<RunningCodeServer> {
  const log = openSync(join(dirs.logs, 'code-server.log'), 'a');
  const child = spawn(
    process.execPath,
    [
      bin,
      '--auth', 'none',
      '--bind-addr', `127.0.0.1:${port}`,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--user-data-dir', dirs.userData,
      '--extensions-dir', dirs.extensions,
      workspace,
    ],
    { env: env(dirs), stdio: ['ignore', log, log], detached: true },
  );
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`code-server exited early with code ${code}; see ${join(dirs.logs, 'code-server.log')}`))),
  );
  exited.catch(() => undefined);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await Promise.race([
      fetch(`${url}/healthz`).then((r) => r.ok, () => false),
      exited,
    ]);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`code-server did not answer on ${url} within 60 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    port,
    process: child,
    stop: async () => {
      if (child.exitCode !== null || child.pid === undefined) return;
      const gone = new Promise((r) => child.once('exit', r));
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        return;
      }
      const t = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, 5000);
      await gone;
      clearTimeout(t);
    },
  };
}

/** A free port in our loopback range (18200-18299). */
export async function freePort(from = 18200, to = 18299): Promise<number> {
  const { createServer } = await import('node:net');
  for (let p = from; p <= to; p++) {
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(p, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return p;
  }
  throw new Error(`no free port in ${from}-${to}`);
}
