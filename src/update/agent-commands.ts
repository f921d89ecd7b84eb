import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeelError } from '../errors.js';
import { createLogger } from '../log.js';
import { type Command, type CommandContext, printJson, stringOption } from '../cli/command.js';
import { runAgent } from './agent-daemon.js';
import { hostEnv } from './agent-host.js';
import { otherSlot } from './boot-entry.js';
import { listEntries, setDefault } from './esp.js';
import { runHealthGate, writeVerdict } from './health-gate.js';
import { updateStatus, formatStatus } from './update-status.js';
import { loadUpdateConfig } from './update-config.js';
import { bootedSlotOf, runningVersionOf } from './host-facts.js';
import { updateNodeState } from './node-state.js';
import { compareVersions } from './version-order.js';
import { readRecords } from './progress-record.js';
import { openUpdateLock } from './update-lock.js';

/**
 * `keel update status|check|apply|rollback|agent|health-check`: thin commands over the
 * agent's parts. Each takes `--root DIR` (default /) so tests run them on a directory tree.
 */
const rootOption = { root: { type: 'string' as const, valueName: 'DIR', description: 'host root (default /)' } };
const rootOf = (ctx: CommandContext) => stringOption(ctx.values, 'root') ?? '/';

function envOf(root: string, config: Awaited<ReturnType<typeof loadUpdateConfig>>, ctx: CommandContext) {
  const slotDir = process.env.KEEL_UPDATE_SLOT_DIR; // tests: slots as files in a directory
  const reboot = process.env.KEEL_UPDATE_REBOOT_COMMAND; // tests: a command instead of systemctl reboot
  return hostEnv({
    root,
    config,
    log: createLogger(ctx.stderr),
    openLock: () => openUpdateLock(root),
    ...(slotDir && { slotTarget: (slot: string) => join(slotDir, `slot-${slot}.img`) }),
    ...(reboot && { rebootCommand: reboot.split(' ') }),
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
    const env = envOf(root, config, ctx);
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
    const pid = Number((await readFile(join(root, 'run/keel/update-agent.pid'), 'utf8').catch(() => '')).trim());
    if (pid > 0 && isAlive(pid)) {
      process.kill(pid, 'SIGUSR1');
      ctx.stdout.write(`asked the running agent (pid ${pid}) to apply now; follow it with journalctl -u keel-update\n`);
      return 0;
    }
    const config = await loadUpdateConfig(root);
    const env = envOf(root, config, ctx);
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
    const root = rootOf(ctx);
    const booted = await bootedSlotOf(root);
    if (!booted) throw new KeelError('not-found', 'cannot tell the booted slot (no keel.slot= on /proc/cmdline); rollback refused');
    const other = otherSlot(booted);
    const esp = join(root, 'boot');
    const entry = (await listEntries(esp)).find((e) => e.slot === other && e.health !== 'bad');
    const partial = (await readRecords(join(root, 'var/lib/keel/update'))).find((r) => r.slot === other && r.phase === 'partial');
    if (!entry || partial) throw new KeelError('conflict', `slot ${other} holds nothing bootable (${partial ? `a partial download of ${partial.version}` : 'no good boot entry'}); rollback refused, the next boot stays slot ${booted}`);
    await setDefault(esp, entry.id);
    // The version rolled away from is not installed again by the agent; newer releases still are.
    const running = await runningVersionOf(root);
    if (running && entry.version && compareVersions(entry.version, running) < 0)
      await updateNodeState(join(root, 'var/lib/keel/update'), (s) => ({ ...s, failedVersions: [...new Set([...s.failedVersions, running])] }));
    const skipped = running && entry.version && compareVersions(entry.version, running) < 0 ? running : null;
    if (ctx.json) printJson(ctx, { nextBoot: { slot: other, version: entry.version ?? null, entry: entry.fileName }, skipped });
    else ctx.stdout.write(`next boot: slot ${other} (${entry.version ?? entry.id}); reboot to roll back${skipped ? `; ${skipped} will not be installed again` : ''}\n`);
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
    const env = envOf(root, config, ctx);
    try {
      await runAgent({ env, log: createLogger(ctx.stderr), root });
    } finally {
      await env.closeLock();
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

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export const agentCommands: Command[] = [status, check, apply, rollback, agent, healthCheck];
