import { join } from 'node:path';
import { KeelError } from '../errors.js';
import { createLogger } from '../log.js';
import { type Command, type CommandContext, printJson, stringOption } from './command.js';
import { runAgent, signalRunningAgent } from '../update/agent-daemon.js';
import { startAgentMetrics } from '../update/agent-metrics.js';
import { hostEnv } from '../update/agent-host.js';
import { runHealthGate, writeVerdict } from '../update/health-gate.js';
import { rollbackToOtherSlot } from '../update/manual-rollback.js';
import { commandRebooter } from '../update/rebooter.js';
import { slotFilesIn } from '../update/slot-devices.js';
import { updateStatus, formatStatus } from '../update/update-status.js';
import { loadUpdateConfig, type UpdateConfig } from '../update/update-config.js';
import { openAgentEtcd } from '../update/update-lock.js';

/**
 * `keel update status|check|apply|rollback|agent|health-check`: thin commands over the
 * agent's parts. Each takes `--root DIR` (default /) so tests run them on a directory tree.
 */
const rootOption = { root: { type: 'string' as const, valueName: 'DIR', description: 'host root (default /)' } };
const rootOf = (ctx: CommandContext) => stringOption(ctx.values, 'root') ?? '/';

/**
 * The test seam of the spawned binary, read here and nowhere else: KEEL_UPDATE_TEST_EDGES, a
 * JSON object `{"slotDir": DIR, "rebootCommand": [PROGRAM, ARG…]}`, gives the agent slots as
 * `DIR/slot-<slot>.img` files and a command instead of `systemctl reboot`
 * (test/integration/update/agent-tree.test.ts). Unset on a real host.
 */
export const testEdgesVariable = 'KEEL_UPDATE_TEST_EDGES';

function testEdges(): { slotDir?: string; rebootCommand?: string[] } {
  const text = process.env[testEdgesVariable];
  if (!text) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const fields = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  const slotDir = fields?.slotDir;
  const rebootCommand = fields?.rebootCommand;
  const okDir = slotDir === undefined || typeof slotDir === 'string';
  const okReboot = rebootCommand === undefined || (Array.isArray(rebootCommand) && rebootCommand.length > 0 && rebootCommand.every((a) => typeof a === 'string'));
  if (!fields || !okDir || !okReboot)
    throw new KeelError('usage', `${testEdgesVariable}: expected a JSON object {"slotDir": DIR, "rebootCommand": [PROGRAM, ARG…]}; unset it on a real host`);
  return { ...(typeof slotDir === 'string' && { slotDir }), ...(Array.isArray(rebootCommand) && { rebootCommand: rebootCommand as string[] }) };
}

/** The host's edges; `fleet`: publish the node record and take part in rollouts when lock.conf names etcd. */
async function envOf(root: string, config: UpdateConfig, ctx: CommandContext, fleet = false) {
  const edges = testEdges();
  const log = createLogger(ctx.stderr);
  const etcd = await openAgentEtcd(root, config, log, { fleet });
  return hostEnv({
    root,
    config,
    log,
    openLock: etcd.openLock,
    onClose: etcd.close,
    ...(etcd.fleet && { fleet: etcd.fleet }),
    ...(edges.slotDir !== undefined && { slotTarget: slotFilesIn(edges.slotDir) }),
    ...(edges.rebootCommand !== undefined && { rebooter: commandRebooter(edges.rebootCommand) }),
  });
}

const status: Command = {
  name: 'status',
  summary: 'booted slot and version, the other slot, staged release, last check, last error',
  json: true,
  options: rootOption,
  async run(ctx) {
    const report = await updateStatus(rootOf(ctx));
    if (ctx.json) printJson(ctx, report);
    else ctx.stdout.write(formatStatus(report));
    return 0;
  },
};

const check: Command = {
  name: 'check',
  summary: 'verify the repository metadata and say whether a release would be installed',
  json: true,
  options: rootOption,
  async run(ctx) {
    const root = rootOf(ctx);
    const config = await loadUpdateConfig(root);
    const env = await envOf(root, config, ctx);
    if (!config.server) throw new KeelError('invalid-input', `no update server configured: set SERVER in ${join(root, 'etc/keel/update.conf')}`);
    const { booted } = await env.bootFacts();
    const at = new Date().toISOString();
    try {
      const choice = await env.check(booted);
      const result = choice.kind === 'install' ? `found ${choice.release.version}` : choice.reason;
      await env.report({ state: 'steady', lastCheck: at, lastCheckResult: result, lastError: null });
      if (ctx.json) printJson(ctx, choice.kind === 'install' ? { available: choice.release.version, channel: choice.release.channel } : { available: null, reason: choice.reason });
      else ctx.stdout.write(choice.kind === 'install' ? `update available: ${choice.release.version} (channel ${choice.release.channel})\n` : `no update: ${choice.reason}\n`);
      return 0;
    } catch (error) {
      await env.report({ state: 'steady', lastCheck: at, lastCheckResult: 'failed', lastError: (error as Error).message });
      throw error;
    }
  },
};

const apply: Command = {
  name: 'apply',
  summary: 'check, install and reboot now, ignoring the maintenance window (the reboot lock still applies)',
  options: rootOption,
  async run(ctx) {
    const root = rootOf(ctx);
    const pid = await signalRunningAgent(root);
    if (pid !== undefined) {
      ctx.stdout.write(`asked the running agent (pid ${pid}) to apply now; follow it with journalctl -u keel-update\n`);
      return 0;
    }
    const config = await loadUpdateConfig(root);
    const env = await envOf(root, config, ctx, true);
    try {
      const final = await runAgent({ env, log: createLogger(ctx.stderr), root, force: true, until: (s) => s.kind === 'rebooting' || (s.kind === 'steady' && s.lastCheckMs !== undefined) || s.kind === 'unhealthy' });
      ctx.stdout.write(final.kind === 'rebooting' ? `rebooting into ${final.release.version}\n` : `nothing applied (${final.kind}); see keel update status\n`);
      return final.kind === 'rebooting' || final.kind === 'steady' ? 0 : 1;
    } finally {
      await env.closeLock();
    }
  },
};

const rollback: Command = {
  name: 'rollback',
  summary: 'make the other slot the next boot; refused when it holds nothing bootable',
  json: true,
  options: rootOption,
  async run(ctx) {
    const { slot, entry, skipped } = await rollbackToOtherSlot(rootOf(ctx));
    if (ctx.json) printJson(ctx, { nextBoot: { slot, version: entry.version ?? null, entry: entry.fileName }, skipped });
    else ctx.stdout.write(`next boot: slot ${slot} (${entry.version ?? entry.id}); reboot to roll back${skipped ? `; ${skipped} will not be installed again` : ''}\n`);
    return 0;
  },
};

const agent: Command = {
  name: 'agent',
  summary: 'the update daemon (keel-update.service): check, download, stage, reboot by strategy',
  options: rootOption,
  async run(ctx) {
    const root = rootOf(ctx);
    const config = await loadUpdateConfig(root);
    const metrics = await startAgentMetrics(root, await envOf(root, config, ctx, true), createLogger(ctx.stderr));
    const env = metrics.env;
    try {
      await runAgent({ env, log: createLogger(ctx.stderr), root });
    } finally {
      await env.closeLock();
      await metrics.close();
    }
    return 0;
  },
};

const healthCheck: Command = {
  name: 'health-check',
  summary: 'the health gate before boot-complete.target: failed units and /etc/keel/health.d checks',
  json: true,
  options: { ...rootOption, 'no-systemd': { type: 'boolean', description: 'skip the failed-units check (no systemd under --root)' } },
  async run(ctx) {
    const root = rootOf(ctx);
    const verdict = await runHealthGate(root, { systemd: ctx.values['no-systemd'] !== true, ignoreUnits: ['keel-health-check.service'] });
    await writeVerdict(root, verdict);
    if (ctx.json) printJson(ctx, verdict);
    else for (const c of verdict.checks) ctx.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}\n`);
    if (!verdict.ok) ctx.stderr.write('keel: health gate failed: this boot is not blessed\n');
    return verdict.ok ? 0 : 1;
  },
};

export const agentCommands: Command[] = [status, check, apply, rollback, agent, healthCheck];
