/**
 * Worker thread of the parallel int4 quantizer (quant/pool.ts): quantizes the rows it is sent,
 * in shared memory, then counts down the shared counter the converting thread waits on.
 */
import { parentPort } from 'node:worker_threads';
import { quantizeInt4Rows } from './int4';
import type { RowsJob } from './pool';

if (!parentPort) throw new Error('int4-worker must run in a worker thread');
const port = parentPort;
port.on('message', (m: RowsJob) => {
  const ctrl = new Int32Array(m.ctrl);
  try {
    quantizeInt4Rows(new Float32Array(m.w), m.K, m.n0, m.n1, m.opts, new Uint8Array(m.data), new Float32Array(m.scales));
  } catch {
    Atomics.store(ctrl, 1, 1);
  }
  Atomics.sub(ctrl, 0, 1);
  Atomics.notify(ctrl, 0);
});
port.postMessage('ready');
