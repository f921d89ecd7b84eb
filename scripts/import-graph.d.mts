// Types of scripts/import-graph.mjs for the tests that import it (the script stays plain
// JavaScript so CI runs it with node alone).
export type ImportKind = 'static' | 'type' | 'dynamic';
export interface FoundImport { specifier: string; line: number; kind: ImportKind }
export interface LocatedImport extends FoundImport { file: string }
export interface Edge { from: string; to: string; imports: LocatedImport[] }
export interface Graph { parts: string[]; edges: Edge[]; graph: Record<string, string[]> }
export interface ExplainedCycle { parts: string[]; edges: Edge[] }
export interface Token { type: 'name' | 'string' | 'number' | 'punct' | 'template' | 'regex'; value: string; line: number }

export const subparts: string[];
export function tokenize(src: string): Token[];
export function scanImports(src: string): FoundImport[];
export function partOf(relPath: string): string;
export function resolveSpecifier(fromRel: string, specifier: string, files: ReadonlySet<string>): string | undefined;
export function findCycles(graph: Readonly<Record<string, readonly string[]>>): string[][];
export function readGraph(srcDir: string): Graph;
export function explainCycles(result: Graph): ExplainedCycle[];
export function formatReport(result: Graph, cycles: ExplainedCycle[]): string;
