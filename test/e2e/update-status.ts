/**
 * `keel update status --json` on a guest, and polling it until a condition holds: the update,
 * verity and cluster e2e tests all wait on the agent this way. As root, or as `core` through
 * sudo on hosts whose cloud-config made that user.
 */
import type { Vm } from '../harness/qemu.js';

export type StatusUser = 'root' | 'core';

export async function updateStatus(vm: Vm, user: StatusUser = 'root'): Promise<any> {
  const command = user === 'root' ? 'keel update status --json' : 'sudo -n keel update status --json';
  return JSON.parse((await vm.ssh(command, { user, commandTimeoutMs: 120_000 })).stdout);
}

/** Polls the status every 5 s until `done` holds; fails with `what` and the last status (or error). */
export async function waitUpdateStatus(vm: Vm, what: string, done: (s: any) => boolean, timeoutMs: number, user: StatusUser = 'root'): Promise<any> {
  const end = Date.now() + timeoutMs;
  let last: any;
  while (Date.now() < end) {
    last = await updateStatus(vm, user).catch((e: Error) => ({ error: e.message }));
    if (!last.error && done(last)) return last;
    await new Promise((r) => setTimeout(r, 5000));
  }
  throw new Error(`${what}: not reached in ${timeoutMs} ms; last status ${JSON.stringify(last)}`);
}
