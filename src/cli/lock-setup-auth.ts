/**
 * `keel lock setup-auth`: keel's etcd roles and users, then authentication on (issue 10).
 * Passwords come from the environment only (a command line is visible to every user in
 * `ps`); a user without one logs in with a client certificate whose common name is its
 * name, as etcd's --client-cert-auth does. `--dry-run` prints the etcdctl commands.
 */
import { KeelError } from '../errors.js';
import { type Command, printJson, stringOption } from './command.js';
import { connectionOptions, lockSettingsOf } from './lock-settings.js';
import { describe, performAuthSteps } from '../lock/etcd-auth-setup.js';
import { agentRole, authPlan, etcdctlCommand, operatorRole, type AuthStep } from '../lock/etcd-roles.js';
import { idProblem } from '../lock/semaphore.js';

const passwordEnv = { root: 'KEEL_ETCD_ROOT_PASSWORD', agent: 'KEEL_ETCD_AGENT_PASSWORD', operator: 'KEEL_ETCD_OPERATOR_PASSWORD' } as const;

const { group: _group, 'max-hold': _maxHold, ...etcdOptions } = connectionOptions;

export const setupAuth: Command = {
  name: 'setup-auth',
  summary: `create keel's etcd roles (${agentRole}, ${operatorRole}) and users, then enable etcd authentication`,
  json: true,
  options: {
    ...etcdOptions,
    'agent-user': { type: 'string', valueName: 'NAME', description: `etcd user of the nodes (default ${agentRole})` },
    'operator-user': { type: 'string', valueName: 'NAME', description: `etcd user of operators (default ${operatorRole})` },
    'dry-run': { type: 'boolean', description: 'print the equivalent etcdctl commands and change nothing' },
  },
  maxPositionals: 0,
  details:
    `Passwords come from ${passwordEnv.root}, ${passwordEnv.agent} and ${passwordEnv.operator};\n` +
    'a user whose variable is unset logs in with a client certificate named after it. Safe to run again.\n' +
    'See docs/lock.md for the prefixes each role may use.',
  async run(ctx) {
    const name = (option: string, fallback: string) => {
      const value = stringOption(ctx.values, option) ?? fallback;
      const problem = idProblem(value) ?? (/^[A-Za-z0-9._-]+$/.test(value) ? undefined : `expected letters, digits, '.', '_' or '-', found '${value}'`);
      if (problem || value === 'root') throw new KeelError('usage', `--${option}: ${problem ?? "expected a user other than root"}`);
      return value;
    };
    const agentUser = name('agent-user', agentRole);
    const operatorUser = name('operator-user', operatorRole);
    if (agentUser === operatorUser) throw new KeelError('usage', '--agent-user and --operator-user: expected two different users, found one');
    const env = (key: string) => (process.env[key] ? key : undefined);
    const passwords = { root: env(passwordEnv.root), agent: env(passwordEnv.agent), operator: env(passwordEnv.operator) };
    const steps = authPlan({ agentUser, operatorUser, passwords: Object.fromEntries(Object.entries(passwords).filter(([, v]) => v)) });
    const shown = (step: AuthStep, outcome?: string) => ({ step: describe(step), command: etcdctlCommand(step), ...(outcome ? { outcome } : {}) });
    if (ctx.values['dry-run'] === true) {
      if (ctx.json) printJson(ctx, { dryRun: true, steps: steps.map((s) => shown(s)) });
      else ctx.stdout.write(`# keel lock setup-auth would run the equivalent of:\n${steps.map(etcdctlCommand).join('\n')}\n`);
      return 0;
    }
    const settings = lockSettingsOf(ctx);
    if (settings.endpoints.length === 0) throw new KeelError('invalid-input', 'no etcd endpoints: set ENDPOINTS in /etc/keel/lock.conf or pass --endpoints');
    // Without a root password, only a client certificate named root can administer etcd once auth is on.
    if (!passwords.root && !settings.certfile)
      throw new KeelError('usage', `${passwordEnv.root} is unset and no --cert is given: after 'auth enable' nobody could administer etcd; set it, or connect with a client certificate whose common name is root`);
    const done: ReturnType<typeof shown>[] = [];
    await performAuthSteps(
      { endpoints: settings.endpoints, cafile: settings.cafile, certfile: settings.certfile, keyfile: settings.keyfile, username: settings.username, password: settings.password },
      steps,
      process.env as Record<string, string>,
      (step, outcome) => {
        done.push(shown(step, outcome));
        if (!ctx.json) ctx.stdout.write(`${outcome === 'kept' ? 'kept' : 'done'}: ${describe(step)}\n`);
      },
    );
    if (ctx.json) printJson(ctx, { dryRun: false, steps: done });
    return 0;
  },
};
