/**
 * Checks, before anything is written, what apply would otherwise find only halfway: that
 * every file owner names a user and group that exist in the root or that the plan creates.
 * An apply that would stop at file 5 must not write files 1–4 first.
 */
import type { Operation } from '../cloudconfig/operation.js';
import type { AccountsDb } from '../host/passwd-db.js';
import { findGroup, findUser } from '../host/passwd-db.js';
import { primaryGroupOf } from '../host/accounts.js';

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
export function unresolvableOwners(operations: readonly Operation[], db: AccountsDb): { index: number; message: string }[] {
  const planned = plannedAccounts(operations);
  // uid/gid 0 exist on every Linux system, even in an empty root being prepared offline.
  const userKnown = (name: string) => name === '' || name === 'root' || /^\d+$/.test(name) || planned.users.has(name) || findUser(db, name) !== undefined;
  const groupKnown = (name: string) => name === '' || name === 'root' || /^\d+$/.test(name) || planned.groups.has(name) || findGroup(db, name) !== undefined;
  const problems: { index: number; message: string }[] = [];
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
