/** What `npm run bench:serve` and `npm run soak:serve` share: prompts, percentiles, a process's memory. */
import { readFileSync } from 'node:fs';

/** Distinct code prefixes of `chars` characters from the held-out eval set (files that begin alike, e.g. with a licence, count once). */
export function evalPrompts(chars = 600): string[] {
  const prefixes = readFileSync(new URL('../test/fixtures/code-eval.jsonl', import.meta.url), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { text: string }).text)
    .filter((t) => t.length >= chars)
    .map((t) => t.slice(0, chars));
  return [...new Set(prefixes)];
}

/** The p-th percentile (nearest rank) of `xs`; NaN when empty. */
export function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export const r1 = (x: number) => Math.round(x * 10) / 10;

/** Resident memory of process `pid` in MB (Linux /proc), or undefined where it cannot be read. */
export function rssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? r1(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** A small seeded generator (mulberry32), so a run's mix of requests can be repeated. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
