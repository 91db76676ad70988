/**
 * Drives the real language server over stdio with vscode-jsonrpc, as an editor would:
 * initialize (answering workspace/configuration with the given settings), open documents,
 * request inline completions, read the server process's RSS from /proc.
 *
 * Waiting is on events, never on sleeps: `applySettings` resolves on the server's
 * `neox/settingsApplied` for the configuration it was answered with, `waitStatus` on a
 * `neox/status` notification, `waitStream` on `neox/stream` notifications.
 *
 * NEOX_SERVER=dist runs the bundle (dist/server.mjs, after `npm run build`); the default runs
 * server/server.ts from sources through tsx.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  CancellationTokenSource,
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
} from 'vscode-languageserver-protocol/node';
import { InlineCompletionRequest, type InlineCompletionList, type Position } from 'vscode-languageserver-protocol';
import { SettingsAppliedNotification, type NeoxSettings, type StatusParams } from '../../protocol/index';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Harness {
  conn: MessageConnection;
  child: ChildProcess;
  statuses: StatusParams[];
  streams: { streamId: string; delta: string }[];
  /** window/logMessage messages, in order. */
  logs: string[];
  /** window/showMessage messages (what the editor shows the user), in order. */
  shown: { type: number; message: string }[];
  stderr: () => string;
  settings: Partial<NeoxSettings> & Record<string, unknown>;
  open(uri: string, languageId: string, text: string): Promise<void>;
  change(uri: string, text: string): Promise<void>;
  inline(uri: string, position: Position, opts?: { invoked?: boolean; token?: CancellationTokenSource }): Promise<InlineCompletionList | null>;
  waitReady(timeoutMs?: number): Promise<StatusParams>;
  /**
   * Change settings (a value of undefined removes the key), send workspace/didChangeConfiguration
   * and resolve once the server has applied a configuration pulled after the change.
   */
  applySettings(patch: Record<string, unknown>): Promise<void>;
  /** Resolves with the first `neox/status` from now on (or among those after `since`) that matches. */
  waitStatus(match: (s: StatusParams) => boolean, opts?: { since?: number; timeoutMs?: number }): Promise<StatusParams>;
  /** Resolves once `count` window/showMessage notifications have arrived in all. */
  waitShown(count: number, timeoutMs?: number): Promise<void>;
  /** Resolves once `count` `neox/stream` notifications of `streamId` have arrived. */
  waitStream(streamId: string, count: number, timeoutMs?: number): Promise<void>;
  rssKb(): number;
  close(): Promise<void>;
}

export async function startServer(
  settings: Partial<NeoxSettings> & Record<string, unknown> = {},
  init: Record<string, unknown> = {},
  /**
   * The workspace folder the editor has open (default file:///work/project); `workspaceFolders`:
   * the editor's folder list instead, with the capability to add and remove folders later.
   */
  opts: { rootUri?: string; workspaceFolders?: string[] } = {},
): Promise<Harness> {
  const args =
    process.env.NEOX_SERVER === 'dist' ? ['dist/server.mjs', '--stdio'] : ['--import', 'tsx', 'server/server.ts', '--stdio'];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const conn = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
  const statuses: StatusParams[] = [];
  const streams: { streamId: string; delta: string }[] = [];
  const logs: string[] = [];
  const shown: { type: number; message: string }[] = [];
  /** Re-checked on every notification; each resolves and removes itself when its condition holds. */
  let checks: (() => boolean)[] = [];
  const recheck = () => (checks = checks.filter((c) => !c()));
  /** Fails a wait that never comes with a clear message instead of hanging the run. */
  const until = (what: string, cond: () => boolean, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      if (cond()) return resolve();
      const t = setTimeout(() => {
        checks = checks.filter((c) => c !== check);
        reject(new Error(`no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const check = () => {
        if (!cond()) return false;
        clearTimeout(t);
        resolve();
        return true;
      };
      checks.push(check);
    });
  /** workspace/configuration answers given, and the last settings generation the server applied. */
  let configAnswers = 0;
  let appliedGeneration = 0;
  const h: Harness = {
    conn,
    child,
    statuses,
    streams,
    logs,
    shown,
    stderr: () => err,
    settings,
    async open(uri, languageId, text) {
      versions.set(uri, 1);
      await conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId, version: 1, text } });
    },
    async change(uri, text) {
      const v = (versions.get(uri) ?? 1) + 1;
      versions.set(uri, v);
      await conn.sendNotification('textDocument/didChange', { textDocument: { uri, version: v }, contentChanges: [{ text }] });
    },
    inline(uri, position, opts = {}) {
      const params = { textDocument: { uri }, position, context: { triggerKind: opts.invoked ? 1 : 2 } };
      return conn.sendRequest(InlineCompletionRequest.type, params as never, opts.token?.token) as Promise<InlineCompletionList | null>;
    },
    async waitReady(timeoutMs = 120_000) {
      const t0 = Date.now();
      for (;;) {
        const s = await conn.sendRequest<StatusParams>('neox/getStatus');
        if (s.state === 'ready') return s;
        // 'error' may be the previous configuration's state until the new settings arrive.
        if (s.state === 'error' && Date.now() - t0 > 5000) throw new Error(`server status error: ${s.message}`);
        if (Date.now() - t0 > timeoutMs) throw new Error(`server not ready after ${timeoutMs} ms: ${JSON.stringify(s)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async applySettings(patch) {
      for (const [k, v] of Object.entries(patch)) {
        if (v === undefined) delete h.settings[k];
        else h.settings[k] = v;
      }
      // The server applies configurations in the order it pulled them: the next pull answered
      // from now on carries the patch.
      const wanted = configAnswers + 1;
      await conn.sendNotification('workspace/didChangeConfiguration', { settings: {} });
      await until(`neox/settingsApplied generation ${wanted}`, () => appliedGeneration >= wanted, 60_000);
    },
    async waitStatus(match, opts = {}) {
      let from = opts.since ?? statuses.length;
      let found: StatusParams | undefined;
      await until(
        'matching neox/status',
        () => {
          for (; from < statuses.length && !found; from++) if (match(statuses[from]!)) found = statuses[from];
          return !!found;
        },
        opts.timeoutMs ?? 120_000,
      );
      return found!;
    },
    waitShown(count, timeoutMs = 30_000) {
      return until(`${count} window/showMessage`, () => shown.length >= count, timeoutMs);
    },
    waitStream(streamId, count, timeoutMs = 120_000) {
      return until(`${count} neox/stream for ${streamId}`, () => streams.filter((x) => x.streamId === streamId).length >= count, timeoutMs);
    },
    rssKb() {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return m ? Number(m[1]) : 0;
    },
    async close() {
      try {
        await Promise.race([conn.sendRequest('shutdown'), new Promise((r) => setTimeout(r, 3000))]);
        await conn.sendNotification('exit');
      } catch {
        // already gone
      }
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
      conn.dispose();
    },
  };
  const versions = new Map<string, number>();
  conn.onRequest('workspace/configuration', (p: unknown) => {
    configAnswers++;
    // A copy: the answer is the settings as they are now, whatever the test changes later.
    return (p as { items: { section?: string }[] }).items.map((i) => (i.section === 'neoxComplete' ? { ...h.settings } : null));
  });
  conn.onNotification(SettingsAppliedNotification, (p) => {
    appliedGeneration = Math.max(appliedGeneration, p.generation);
    recheck();
  });
  conn.onNotification('neox/status', (s: unknown) => {
    statuses.push(s as StatusParams);
    recheck();
  });
  conn.onNotification('neox/stream', (s: unknown) => {
    streams.push(s as { streamId: string; delta: string });
    recheck();
  });
  conn.onNotification('window/logMessage', (m: { message?: string }) => void logs.push(String(m?.message ?? '')));
  conn.onNotification('window/showMessage', (m: { type?: number; message?: string }) => {
    shown.push({ type: Number(m?.type ?? 0), message: String(m?.message ?? '') });
    recheck();
  });
  conn.listen();
  await conn.sendRequest('initialize', {
    processId: process.pid,
    ...(opts.workspaceFolders
      ? { rootUri: null, workspaceFolders: opts.workspaceFolders.map((uri) => ({ uri, name: uri.split('/').pop() })) }
      : { rootUri: opts.rootUri ?? 'file:///work/project' }),
    capabilities: { workspace: { configuration: true, workspaceFolders: !!opts.workspaceFolders } },
    // testHooks: the server registers the test-only methods of protocol/debug.ts.
    initializationOptions: { testHooks: true, ...init },
  });
  await conn.sendNotification('initialized', {});
  return h;
}

export { CancellationTokenSource };
