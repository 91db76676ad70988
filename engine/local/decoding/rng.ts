/**
 * Seeded pseudo-random numbers for reproducible sampling. Each sample (choice index) gets
 * its own stream derived from (seed, index), so sample i is the same whatever n is.
 */
import { randomInt } from 'node:crypto';

export type Rng = () => number;

/** splitmix32-style mixing of a 32-bit value (decorrelates nearby seeds). */
function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** mulberry32: small, fast, good enough statistical quality for token sampling. Returns [0, 1). */
export function createRng(seed: number, stream = 0): Rng {
  let a = mix32(mix32(Math.floor(seed) >>> 0) ^ Math.imul(stream + 1, 0x27d4eb2d));
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed for requests that did not ask for one. */
export function randomSeed(): number {
  return randomInt(0, 2 ** 31);
}
