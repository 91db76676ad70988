// Types for scripts/package.mjs (imported by test/package/vsix.test.ts).
export declare const TARGETS: Record<string, string>;
export declare const LANCEDB_BINDINGS: Record<string, string>;
export declare const vsixDir: string;
export declare function vsixPath(target: string, outDir?: string): string;
export declare function packageTarget(target: string, opts?: { outDir?: string; stageRoot?: string }): string;
export declare function build(): void;
