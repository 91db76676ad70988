/**
 * Test-only LSP methods: the server registers them only when the initialize request's
 * `initializationOptions.testHooks` is true (test/server/lsp-harness.ts, bench/lsp.ts). The
 * extension never sets it, so a production server does not answer them.
 */
import { RequestType, RequestType0 } from 'vscode-languageserver-protocol';

/** How the last inline request was answered: 'generated', 'cache', 'typedThrough', ... and its cost. */
export interface LastCompletionResult {
  source?: string;
  latencyMs?: number;
  promptTokens?: number;
  promptTokensReused?: number;
  multiline?: boolean;
  /**
   * The backend's finish reason per candidate when the request reached a generation ('cancelled':
   * the engine stopped between two tokens because the request was aborted).
   */
  finishReasons?: string[];
}
/** Client (test) -> server request: how the last inline request was answered. */
export const DebugLastCompletionRequest = new RequestType0<LastCompletionResult, void>('neox/debug/lastCompletion');

/** Inline generations running right now, and generations holding the engine lock. */
export interface InFlightResult {
  inFlight: number;
  lockRunning: number;
}
/** Client (test) -> server request: inline generations running right now. */
export const DebugInFlightRequest = new RequestType0<InFlightResult, void>('neox/debug/inFlight');

/** The server process's memory (process.memoryUsage(), bytes), after a full garbage collection when `gc` is asked. */
export interface MemoryParams {
  gc?: boolean;
}
export interface MemoryResult {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** Whether a full garbage collection ran before measuring. */
  collected: boolean;
}
/** Client (test) -> server request: the server's memory, to check that a closed document's memory comes back. */
export const DebugMemoryRequest = new RequestType<MemoryParams, MemoryResult, void>('neox/debug/memory');
