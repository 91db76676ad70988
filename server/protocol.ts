/**
 * Transitional re-export: the LSP contract lives in protocol/ (protocol/index.ts, the settings table
 * protocol/settings.ts, the test-only methods protocol/debug.ts). Import from there.
 */
export * from '../protocol/index';
export * from '../protocol/debug';
