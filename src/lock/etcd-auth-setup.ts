/**
 * Performs the steps of etcd-roles.ts against etcd (`keel lock setup-auth`). Every step
 * is idempotent: a role or user that exists is kept (a given password is set again), a
 * grant repeated is harmless and enabling auth twice is a no-op, so the command can be
 * run again after adding a node or changing a password.
 */
import { randomBytes } from 'node:crypto';
import { Etcd3, Range } from 'etcd3';
import { KeelError } from '../errors.js';
import { etcdError, etcdOptions, type EtcdConnection } from './etcd-store.js';
import type { AuthStep } from './etcd-roles.js';

const etcdPermission = { read: 'Read', write: 'Write', readwrite: 'Readwrite' } as const;

const exists = (error: unknown) => /already exists/i.test((error as Error)?.message ?? '');

/** Runs `steps` in order; `passwords` maps each environment variable name a step names to its value. */
export async function performAuthSteps(connection: EtcdConnection, steps: AuthStep[], passwords: Record<string, string>, report: (step: AuthStep, outcome: 'done' | 'kept') => void): Promise<void> {
  const client = new Etcd3(etcdOptions({ ...connection, callTimeoutMs: connection.callTimeoutMs ?? 5000 }));
  try {
    for (const step of steps) {
      try {
        report(step, await perform(client, step, passwords));
      } catch (error) {
        throw etcdError(error, describe(step));
      }
    }
  } finally {
    client.close();
  }
}

async function perform(client: Etcd3, step: AuthStep, passwords: Record<string, string>): Promise<'done' | 'kept'> {
  switch (step.kind) {
    case 'add-user': {
      const given = step.password.kind === 'given' ? passwords[step.password.env] : undefined;
      if (step.password.kind === 'given' && !given) throw new KeelError('usage', `${step.password.env} is empty; set it to ${step.user}'s password`);
      const password = given ?? randomBytes(24).toString('base64');
      try {
        await client.user(step.user).create(password);
        return 'done';
      } catch (error) {
        if (!exists(error)) throw error;
        if (given) await client.user(step.user).setPassword(given);
        return 'kept';
      }
    }
    case 'add-role':
      try {
        await client.role(step.role).create();
        return 'done';
      } catch (error) {
        if (!exists(error)) throw error;
        return 'kept';
      }
    case 'grant-permission':
      await client.role(step.role).grant({ permission: etcdPermission[step.permission], range: Range.prefix(step.prefix) });
      return 'done';
    case 'grant-role':
      await client.user(step.user).addRole(step.role);
      return 'done';
    case 'enable-auth':
      await client.auth.authEnable();
      return 'done';
  }
}

/** A step in words, for errors and the command's output. */
export function describe(step: AuthStep): string {
  switch (step.kind) {
    case 'add-user':
      return `adding user ${step.user}`;
    case 'add-role':
      return `adding role ${step.role}`;
    case 'grant-permission':
      return `granting ${step.role} ${step.permission} on ${step.prefix}*`;
    case 'grant-role':
      return `granting role ${step.role} to ${step.user}`;
    case 'enable-auth':
      return 'enabling authentication';
  }
}
