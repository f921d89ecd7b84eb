/**
 * keel's etcd roles (issue 10), pure: which key prefixes each role may touch, and the
 * ordered steps that create the roles and users and turn authentication on. The same
 * steps are performed by `keel lock setup-auth` (etcd-auth-setup.ts) and printed as
 * etcdctl commands by its `--dry-run`, so the two cannot drift apart.
 *
 * etcd permissions are per key range, not per holder: an agent may write the whole lock
 * prefix, so it could release another node's slot by writing etcd directly. FleetLock
 * with identity (fleetlock-auth.ts) is the place where a node is held to its own slot.
 */

/** airlock's namespace, where the semaphore and keel's holder and waiter keys live (group-keys.ts). */
export const lockPrefix = 'com.coreos.airlock/';
/** keel's own records: nodes, rollouts, halts, service endpoints (`/keel/services/`). */
export const fleetPrefix = '/keel/';

export const agentRole = 'keel-agent';
export const operatorRole = 'keel-operator';

export type Permission = 'read' | 'write' | 'readwrite';

/** The prefixes a role may use. Both roles need both prefixes today; see the file comment. */
export const rolePermissions: Record<string, { permission: Permission; prefix: string }[]> = {
  [agentRole]: [
    { permission: 'readwrite', prefix: lockPrefix },
    { permission: 'readwrite', prefix: fleetPrefix },
  ],
  [operatorRole]: [
    { permission: 'readwrite', prefix: lockPrefix },
    { permission: 'readwrite', prefix: fleetPrefix },
  ],
};

/** Where a user's password comes from: given, or none (the user logs in with a client certificate named after it). */
export type PasswordSource = { kind: 'given'; env: string } | { kind: 'certificate' };

export type AuthStep =
  | { kind: 'add-user'; user: string; password: PasswordSource }
  | { kind: 'add-role'; role: string }
  | { kind: 'grant-permission'; role: string; permission: Permission; prefix: string }
  | { kind: 'grant-role'; user: string; role: string }
  | { kind: 'enable-auth' };

export interface AuthPlanInput {
  agentUser: string;
  operatorUser: string;
  /** Which users get a password (from the named environment variable); the rest log in by certificate. */
  passwords: { root?: string; agent?: string; operator?: string };
}

const source = (env: string | undefined): PasswordSource => (env ? { kind: 'given', env } : { kind: 'certificate' });

/** The steps, in the order etcd needs them: root first, auth enabled last. Each step is idempotent when performed. */
export function authPlan(input: AuthPlanInput): AuthStep[] {
  const steps: AuthStep[] = [
    { kind: 'add-user', user: 'root', password: source(input.passwords.root) },
    { kind: 'grant-role', user: 'root', role: 'root' },
  ];
  for (const [role, user, env] of [
    [agentRole, input.agentUser, input.passwords.agent],
    [operatorRole, input.operatorUser, input.passwords.operator],
  ] as const) {
    steps.push({ kind: 'add-role', role });
    for (const p of rolePermissions[role]!) steps.push({ kind: 'grant-permission', role, permission: p.permission, prefix: p.prefix });
    steps.push({ kind: 'add-user', user, password: source(env) }, { kind: 'grant-role', user, role });
  }
  steps.push({ kind: 'enable-auth' });
  return steps;
}

/** The etcdctl (v3 API) command a step corresponds to, for `--dry-run` and the docs. */
export function etcdctlCommand(step: AuthStep): string {
  switch (step.kind) {
    case 'add-user':
      // etcdctl 3.4 has no --no-password: a certificate user gets a random password nobody uses.
      return step.password.kind === 'given'
        ? `etcdctl user add ${step.user}:"$${step.password.env}"`
        : `etcdctl user add ${step.user}:"$(head -c 24 /dev/urandom | base64)"   # logs in with a client certificate whose CN is ${step.user}`;
    case 'add-role':
      return `etcdctl role add ${step.role}`;
    case 'grant-permission':
      return `etcdctl role grant-permission ${step.role} ${step.permission} ${step.prefix} --prefix`;
    case 'grant-role':
      return `etcdctl user grant-role ${step.user} ${step.role}`;
    case 'enable-auth':
      return 'etcdctl auth enable';
  }
}
