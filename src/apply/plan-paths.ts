/**
 * Every path a plan's filesystem operations will touch, and how, computed from the plan
 * (and the root's accounts, for the homes of users that already exist): the list the
 * preflight checks against the root before anything is written. Pure.
 */
import { posix } from 'node:path';
import type { Operation, UserSpec } from '../cloudconfig/operation.js';
import { instanceRecordPath } from './instance-record.js';
import { accountFilePaths } from '../host/accounts.js';
import { type AccountsDb, findUser } from '../host/passwd-db.js';
import type { PathUse } from '../host/root-fs.js';

/** One use of one path by the operation at `index`. */
export interface PathUseAt {
  index: number;
  path: string;
  use: PathUse;
}

/** Whether an operation reads (and may rewrite) the root's account files. */
export function needsAccounts(op: Operation): boolean {
  return op.kind === 'create-group' || op.kind === 'create-user' || op.kind === 'set-password' || op.kind === 'install-ssh-keys' || ('file' in op && op.file.owner !== undefined && op.file.owner !== '');
}

/** A new user's home, as ensureUser makes it. */
export function homeOf(spec: UserSpec): string {
  return spec.homedir ?? `/home/${spec.name}`;
}

/** The users this plan creates, by name (the first spec wins, as ensureUser does). */
function plannedUsers(operations: readonly Operation[]): Map<string, UserSpec> {
  const users = new Map<string, UserSpec>();
  for (const op of operations) if (op.kind === 'create-user' && !users.has(op.user.name)) users.set(op.user.name, op.user);
  return users;
}

/**
 * The paths of every filesystem operation, in plan order. `db` is the root's accounts
 * (undefined when they cannot be read: homes of existing users are then not listed).
 * Units to enable are not here: their links depend on unit files (see preflight).
 */
export function pathUses(operations: readonly Operation[], db: AccountsDb | undefined): PathUseAt[] {
  const uses: PathUseAt[] = [];
  const users = plannedUsers(operations);
  // Paths replaced earlier in the plan: an append after a write adds to the written file, whatever is there now.
  const replaced = new Set<string>();
  const at = (index: number, path: string, use: PathUse) => uses.push({ index, path, use });
  for (const [index, op] of operations.entries()) {
    if ('file' in op) {
      const key = posix.normalize(op.file.path);
      at(index, op.file.path, op.file.append && !replaced.has(key) ? 'read' : 'replace');
      if (!op.file.append) replaced.add(key);
    }
    if (needsAccounts(op)) for (const path of accountFilePaths) at(index, path, 'read');
    switch (op.kind) {
      case 'set-timezone':
      case 'mask-unit':
        at(index, op.kind === 'mask-unit' ? op.path : op.link.path, 'replace');
        break;
      case 'create-group':
      case 'set-password':
        for (const path of accountFilePaths) at(index, path, 'replace');
        break;
      case 'create-user': {
        for (const path of accountFilePaths) at(index, path, 'replace');
        const exists = db !== undefined && findUser(db, op.user.name) !== undefined;
        if (!exists && !op.user.noCreateHome) at(index, posix.dirname(homeOf(op.user)), 'directory');
        break;
      }
      case 'install-ssh-keys': {
        const existing = db === undefined ? undefined : findUser(db, op.user);
        const spec = users.get(op.user);
        const home = existing?.home ?? (spec ? homeOf(spec) : undefined);
        if (home === undefined) break;
        at(index, posix.dirname(home), 'directory');
        at(index, `${home}/.ssh`, 'own-directory');
        at(index, `${home}/.ssh/authorized_keys`, 'replace-plain');
        break;
      }
      case 'record-instance':
        at(index, instanceRecordPath(op.instanceId), 'replace');
        break;
      default:
        break;
    }
  }
  return uses;
}
