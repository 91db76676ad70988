/** Worker thread of the workspace index: tree-sitter definitions of one file per job (definitions-parse.ts). */
import { parentPort } from 'node:worker_threads';
import { parseDefinitions } from './definitions-parse';

export interface DefinitionsJob {
  id: number;
  runtimeWasm: string;
  grammarWasm: string;
  src: string;
}

parentPort?.on('message', (job: DefinitionsJob) => {
  parseDefinitions(job.runtimeWasm, job.grammarWasm, job.src).then(
    (defs) => parentPort!.postMessage({ id: job.id, defs }),
    (e: Error) => parentPort!.postMessage({ id: job.id, error: e.message }),
  );
});
