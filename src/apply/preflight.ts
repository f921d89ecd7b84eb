/**
 * Checks, before anything is written, what apply would otherwise find only halfway, so an
 * apply that would stop at file 5 does not write files 1–4 first: every path the plan
 * touches resolves inside the root and has the right type there (no FIFO, device or
 * oversized file where keel reads, no file where it needs a directory); the account files
 * can be read; every file owner names a user and group that exist or that the plan
 * creates; every unit to enable is found (in the root or in this plan) and its links can
 * be made; and /etc/skel, copied into new homes, holds only files keel may read.
 */
import { posix } from 'node:path';
import type { Operation } from '../cloudconfig/operation.js';
import { KeelError } from '../errors.js';
import type { AccountsDb } from '../host/passwd-db.js';
import { findGroup, findUser } from '../host/passwd-db.js';
import { accountFilePaths, primaryGroupOf } from '../host/accounts.js';
import type { Entry, RootFs } from '../host/root-fs.js';
import type { Host } from './host.js';
import { homeOf, needsAccounts, pathUses, type PathUseAt } from './plan-paths.js';
import { enableLinks, type UnitFileSource } from './unit-links.js';

/** Why the operation at `index` cannot be performed (a sentence naming the path, without its consequence). */
export interface PreflightProblem {
  index: number;
  message: string;
}

/** Users and groups the plan creates, as ensureUser/ensureGroup will. */
function plannedAccounts(operations: readonly Operation[]): { users: Set<string>; groups: Set<string> } {
  const users = new Set<string>();
  const groups = new Set<string>();
  for (const op of operations) {
    if (op.kind === 'create-group') groups.add(op.name);
    if (op.kind !== 'create-user') continue;
    const u = op.user;
    users.add(u.name);
    groups.add(primaryGroupOf(u));
    for (const g of u.groups) groups.add(g);
  }
  return { users, groups };
}

function ownerOf(op: Operation): string | undefined {
  return 'file' in op ? op.file.owner : undefined;
}

/** Each operation whose owner cannot be resolved, with why; empty when every owner is fine. */
export function unresolvableOwners(operations: readonly Operation[], db: AccountsDb): PreflightProblem[] {
  const planned = plannedAccounts(operations);
  // uid/gid 0 exist on every Linux system, even in an empty root being prepared offline.
  const userKnown = (name: string) => name === '' || name === 'root' || /^\d+$/.test(name) || planned.users.has(name) || findUser(db, name) !== undefined;
  const groupKnown = (name: string) => name === '' || name === 'root' || /^\d+$/.test(name) || planned.groups.has(name) || findGroup(db, name) !== undefined;
  const problems: PreflightProblem[] = [];
  for (const [index, op] of operations.entries()) {
    const owner = ownerOf(op);
    if (!owner) continue;
    const [user = '', group] = owner.split(':', 2);
    const path = 'file' in op ? op.file.path : '';
    if (!userKnown(user)) problems.push({ index, message: `${path}: owner ${JSON.stringify(owner)}: no user ${user} in the root's /etc/passwd and none created by this config` });
    else if (group !== undefined && !groupKnown(group)) problems.push({ index, message: `${path}: owner ${JSON.stringify(owner)}: no group ${group} in the root's /etc/group and none created by this config` });
  }
  return problems;
}

/** The sentence of an error met while checking, without the consequence the edge added (the caller says it). */
function messageOf(error: unknown, path: string): string {
  if (error instanceof KeelError) return error.message.replace(/; (refusing it|refusing to read it|stopping)$/, '');
  if (error instanceof Error) return `${path}: ${error.message}`;
  throw error;
}

/** Checks each distinct use of a path once (the first operation to use it is named). */
async function checkUses(fs: RootFs, uses: readonly PathUseAt[], seen: Set<string>): Promise<PreflightProblem[]> {
  const problems: PreflightProblem[] = [];
  for (const { index, path, use } of uses) {
    const key = `${use} ${path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    try {
      const { problem } = await fs.inspect(path, use);
      if (problem) problems.push({ index, message: problem });
    } catch (error) {
      problems.push({ index, message: messageOf(error, path) });
    }
  }
  return problems;
}

/** The root with the files and masks the plan makes before `upTo` laid over it, for finding unit files. */
function plannedView(fs: RootFs, operations: readonly Operation[], upTo: number): UnitFileSource {
  const planned = new Map<string, Entry & ({ type: 'file'; content: Uint8Array } | { type: 'symlink' })>();
  for (const op of operations.slice(0, upTo)) {
    if ('file' in op && !op.file.append) planned.set(posix.normalize(op.file.path), { type: 'file', mode: op.file.mode, uid: 0, gid: 0, size: op.file.content.length, content: op.file.content });
    if (op.kind === 'mask-unit') planned.set(posix.normalize(op.path), { type: 'symlink', target: '/dev/null', uid: 0, gid: 0 });
  }
  return {
    entry: async (path) => planned.get(posix.normalize(path)) ?? fs.entry(path),
    read: async (path) => {
      const p = planned.get(posix.normalize(path));
      return p?.type === 'file' ? Buffer.from(p.content) : fs.read(path);
    },
  };
}

/** Each unit to enable must be found, and the links it needs must be makeable. */
async function enableProblems(fs: RootFs, operations: readonly Operation[], seen: Set<string>): Promise<PreflightProblem[]> {
  const problems: PreflightProblem[] = [];
  for (const [index, op] of operations.entries()) {
    if (op.kind !== 'enable-unit') continue;
    try {
      const { links } = await enableLinks(plannedView(fs, operations, index), op.unit, op.runtime);
      problems.push(...(await checkUses(fs, links.map((l) => ({ index, path: l.path, use: 'replace' as const })), seen)));
    } catch (error) {
      problems.push({ index, message: messageOf(error, op.unit) });
    }
  }
  return problems;
}

/** /etc/skel as copyTree walks it: every file in it must be one keel may read. */
async function skelProblems(fs: RootFs, index: number, dir = '/etc/skel'): Promise<PreflightProblem[]> {
  const problems: PreflightProblem[] = [];
  try {
    for (const name of await fs.list(dir)) {
      const path = `${dir}/${name}`;
      const e = await fs.entry(path);
      if (e?.type === 'dir') problems.push(...(await skelProblems(fs, index, path)));
      if (e?.type !== 'file') continue;
      const { problem } = await fs.inspect(path, 'read');
      if (problem) problems.push({ index, message: problem });
    }
  } catch (error) {
    problems.push({ index, message: messageOf(error, dir) });
  }
  return problems;
}

/** The first operation that creates a home (copying /etc/skel into it), if any. */
async function firstHomeCreation(fs: RootFs, operations: readonly Operation[], db: AccountsDb): Promise<number> {
  for (const [index, op] of operations.entries()) {
    if (op.kind !== 'create-user' || op.user.noCreateHome || findUser(db, op.user.name)) continue;
    if (!(await fs.entry(homeOf(op.user)).catch(() => undefined))) return index;
  }
  return -1;
}

/**
 * Everything that would stop `operations` partway, in plan order; empty when the plan can
 * be applied. Reads the root only: nothing is created or changed.
 */
export async function preflight(operations: readonly Operation[], host: Pick<Host, 'fs' | 'accounts'>): Promise<PreflightProblem[]> {
  const { fs } = host;
  const seen = new Set<string>();
  const problems: PreflightProblem[] = [];
  let db: AccountsDb | undefined;
  const firstAccounts = operations.findIndex(needsAccounts);
  if (firstAccounts >= 0) {
    const unreadable = await checkUses(fs, accountFilePaths.map((path) => ({ index: firstAccounts, path, use: 'read' as const })), seen);
    problems.push(...unreadable);
    if (unreadable.length === 0) db = await host.accounts.read();
  }
  problems.push(...(await checkUses(fs, pathUses(operations, db), seen)));
  problems.push(...(await enableProblems(fs, operations, seen)));
  if (db) {
    problems.push(...unresolvableOwners(operations, db));
    const home = await firstHomeCreation(fs, operations, db);
    if (home >= 0) problems.push(...(await skelProblems(fs, home)));
  }
  return problems.sort((a, b) => a.index - b.index);
}
