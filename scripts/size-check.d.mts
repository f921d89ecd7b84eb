// Types of scripts/size-check.mjs for the tests that import it (the script stays plain
// JavaScript so CI runs it with node alone).
export interface FunctionSpan { name: string; line: number; lines: number }
export interface LongFile { file: string; lines: number; reason?: string }
export interface LongFunction extends FunctionSpan { file: string; reason?: string }
export interface SizeResult { files: LongFile[]; functions: LongFunction[] }

export const maxFileLines: number;
export const maxFunctionLines: number;
export function functionSpans(src: string): FunctionSpan[];
export function lineCount(src: string): number;
export function sizeReason(src: string): string | undefined;
export function checkTree(srcDir: string, limits?: { file: number; fn: number }): SizeResult;
export function offenders(result: SizeResult): SizeResult;
export function formatReport(result: SizeResult): string;
