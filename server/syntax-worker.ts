/** Worker thread running tree-sitter for syntax.ts (see syntax-parse.ts for why). */
import { parentPort } from 'node:worker_threads';
import { analyse } from './syntax-parse';

export interface SyntaxJob {
  id: number;
  runtimeWasm: string;
  grammarWasm: string;
  src: string;
  cursor: number;
}

parentPort?.on('message', (job: SyntaxJob) => {
  analyse(job.runtimeWasm, job.grammarWasm, job.src, job.cursor).then(
    (result) => parentPort!.postMessage({ id: job.id, result }),
    (e: Error) => parentPort!.postMessage({ id: job.id, error: e.message }),
  );
});
