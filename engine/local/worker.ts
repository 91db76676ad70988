/**
 * Engine worker thread: converts/loads the model and owns the onnxruntime session and KV cache,
 * because InferenceSession.create() and run() block the event loop for their whole duration.
 * Bundled to dist/engine-worker.mjs. Every failure goes back to the caller as an error message.
 */
import { parentPort } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { NeoxError, type LoadProgress } from '../types';
import type { LoadOptions, RunnerInfo } from './runner';
import type { NeoxConfig } from './config';
import type { FromWorker, ToWorker } from './worker-protocol';
import { ensureModel, isModelCached } from './model-cache';
import { Int4Pool, setInt4Pool } from './quant/pool';
import { OnnxKvRunner } from './kv-runner';
import { int4LoneRowDiffers } from './quant/lone-row';
import { OnnxEmbedRunner } from './embed-runner';

if (!parentPort) throw new Error('engine/local/worker.ts must run as a worker thread');
const port = parentPort;
const send = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

let runner: OnnxKvRunner | undefined;
/** The build runner was loaded from, for the embedding session (opened on the first embed). */
let loaded: { dir: string; onnxFile: string; config: NeoxConfig; threads: number } | undefined;
let embedRunner: OnnxEmbedRunner | undefined;
// A reset/reorder/truncate that fails here (they are fire-and-forget on the caller's side, which has
// already checked their arguments: e.g. out of memory) fails the next forward.
let deferredError: NeoxError | undefined;
// Messages are handled strictly in order, even though forward() awaits onnxruntime.
let queue: Promise<void> = Promise.resolve();

/** Learned parameters of a GPT-NeoX checkpoint (as transformers counts them). */
function parameterCount(c: NeoxConfig): number {
  const { hiddenSize: D, intermediateSize: F, vocabSize: V } = c;
  const layer = 3 * D * D + 3 * D + D * D + D + D * F + F + F * D + D + 4 * D;
  return V * D * (c.tiedEmbeddings ? 1 : 2) + c.numLayers * layer + 2 * D;
}

/**
 * An int4 conversion quantizes its big matrices on `threads` cores (the 20B benchmark's converter:
 * 251 s on 2 cores). Only when a build is due: a cached model starts no threads. Without the
 * worker script (a bundle that lacks it) conversion runs on this thread alone.
 */
async function withInt4Pool<T>(opts: LoadOptions, threads: number, onProgress: (p: LoadProgress) => void, convert: () => T): Promise<T> {
  if (opts.quant !== 'int4' || threads < 2 || isModelCached(opts)) return convert();
  const pool = await Int4Pool.start(threads - 1);
  onProgress({ stage: 'convert', message: pool ? `int4 quantization on ${pool.threads} threads` : 'int4 quantization on 1 thread (no worker script)' });
  setInt4Pool(pool);
  try {
    return convert();
  } finally {
    setInt4Pool(null);
    await pool?.close();
  }
}

function errorMessage(e: unknown, id?: number): FromWorker {
  if (e instanceof NeoxError) return { type: 'error', id, message: e.message, code: e.code };
  return { type: 'error', id, message: `engine error: ${(e as Error)?.message ?? String(e)}`, code: 'engine_failed' };
}

async function handle(m: ToWorker): Promise<void> {
  switch (m.type) {
    case 'load': {
      try {
        const threads = m.opts.threads ?? availableParallelism();
        const onProgress = (progress: LoadProgress) => send({ type: 'progress', progress });
        const built = await withInt4Pool(m.opts, threads, onProgress, () => ensureModel(m.opts, onProgress));
        send({ type: 'progress', progress: { stage: 'load', message: `Loading ${built.onnxFile} (${threads} threads)` } });
        const t0 = performance.now();
        const padLoneRow = m.opts.quant === 'int4' && (await int4LoneRowDiffers());
        runner = await OnnxKvRunner.open(built.onnxFile, built.config, threads, padLoneRow);
        loaded = { dir: built.dir, onnxFile: built.onnxFile, config: built.config, threads };
        const c = built.config;
        const info: RunnerInfo = {
          vocabSize: c.vocabSize,
          contextLength: c.maxPositions,
          eosTokenId: c.eosTokenId,
          onnxPath: built.dir,
          numLayers: c.numLayers,
          hiddenSize: c.hiddenSize,
          summary: {
            architecture: 'GPTNeoXForCausalLM',
            parameters: parameterCount(c),
            layers: c.numLayers,
            hiddenSize: c.hiddenSize,
            heads: c.numHeads,
            headSize: c.headSize,
            intermediateSize: c.intermediateSize,
            vocabSize: c.vocabSize,
            contextLength: c.maxPositions,
            rotaryDims: c.rotaryDims,
            rotaryBase: c.rotaryBase,
            parallelResidual: c.parallelResidual,
            activation: c.activation,
            tiedEmbeddings: c.tiedEmbeddings,
            quant: m.opts.quant,
            ...(m.opts.quant === 'int4' ? { blockSize: m.opts.blockSize ?? 32 } : {}),
            threads,
            cache: built.dir,
            builtNow: built.built,
            sessionLoadMs: Math.round(performance.now() - t0),
          },
        };
        send({ type: 'progress', progress: { stage: 'ready', message: 'Model ready', fraction: 1 } });
        send({ type: 'ready', info });
      } catch (e) {
        send(errorMessage(e));
      }
      return;
    }
    case 'forward': {
      try {
        if (!runner) throw new NeoxError('engine is not loaded', 'engine_failed');
        if (deferredError) {
          const e = deferredError;
          deferredError = undefined;
          throw e;
        }
        const out = m.first === undefined ? await runner.forward(m.tokens, m.allLogits, m.targets) : await runner.forwardRows(m.first, m.tokens);
        send({ type: 'result', id: m.id, logits: out.logits.buffer as ArrayBuffer, counts: out.counts, width: m.targets ? 1 : runner.config.vocabSize }, [out.logits.buffer as ArrayBuffer]);
      } catch (e) {
        send(errorMessage(e, m.id));
      }
      return;
    }
    case 'embed': {
      try {
        if (!loaded) throw new NeoxError('engine is not loaded', 'engine_failed');
        embedRunner ??= await OnnxEmbedRunner.open(loaded.dir, loaded.onnxFile, loaded.config, loaded.threads);
        const out = await embedRunner.embed(m.tokens, m.layer, m.pooling);
        send({ type: 'result', id: m.id, logits: out.buffer as ArrayBuffer, counts: m.tokens.map(() => 1), width: loaded.config.hiddenSize }, [out.buffer as ArrayBuffer]);
      } catch (e) {
        send(errorMessage(e, m.id));
      }
      return;
    }
    case 'reset':
    case 'reorder':
    case 'truncate':
    case 'addRows':
    case 'truncateRow': {
      try {
        if (!runner) throw new NeoxError('engine is not loaded', 'engine_failed');
        if (m.type === 'reset') {
          deferredError = undefined;
          runner.reset(m.rows);
        } else if (m.type === 'reorder') runner.reorder(m.src);
        else if (m.type === 'truncate') runner.truncate(m.len);
        else if (m.type === 'addRows') runner.addRows(m.count);
        else runner.truncateRow(m.row, m.len);
      } catch (e) {
        deferredError = e instanceof NeoxError ? e : new NeoxError(`engine error: ${(e as Error).message}`, 'engine_failed');
      }
      return;
    }
    case 'dispose': {
      try {
        await runner?.dispose();
        await embedRunner?.dispose();
      } catch {
        /* releasing a session cannot be retried; the thread ends anyway */
      }
      runner = undefined;
      embedRunner = undefined;
      send({ type: 'disposed', id: m.id });
      return;
    }
  }
}

port.on('message', (m: ToWorker) => {
  queue = queue.then(() => handle(m));
});
