/**
 * One writer per blob across processes (the CLI and the editor pulling the same model at once): a lock
 * file at huggingface_hub's place for it, `<cache>/.locks/models--ORG--NAME/<blob>.lock`, created
 * exclusively and holding the owner's pid. A lock whose owner is gone (a crash, kill -9) is taken over.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Wait until this process holds `path`; resolves to the release function. */
export async function acquireLock(path: string, signal?: AbortSignal, pollMs = 200): Promise<() => Promise<void>> {
  await mkdir(dirname(path), { recursive: true });
  for (;;) {
    signal?.throwIfAborted();
    try {
      await writeFile(path, String(process.pid), { flag: 'wx' });
      return () => rm(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(owner) || owner <= 0 || !alive(owner)) {
      // Half-written (the owner is between create and write) reads as empty: give it one poll first.
      if (!owner) await new Promise((r) => setTimeout(r, pollMs));
      const again = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (again === owner || !again) await rm(path, { force: true });
      continue;
    }
    await new Promise<void>((res, rej) => {
      const t = setTimeout(res, pollMs);
      signal?.addEventListener('abort', () => (clearTimeout(t), rej(signal.reason)), { once: true });
    });
  }
}
