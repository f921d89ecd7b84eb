import { runCommand, type RunCommand } from '../host/process.js';
import { isValidUnitName } from '../systemd/unit-name.js';

/**
 * Checks that must pass before the agent asks for a reboot slot: a command that must exit 0
 * (PRE_REBOOT_COMMAND, run by /bin/sh) and units that must be active (PRE_REBOOT_UNITS,
 * space- or comma-separated). A failing check keeps the node from asking; the agent logs
 * the reason and tries again on its next tick.
 */
export interface PreRebootChecks {
  command?: string;
  units: string[];
}

/** How long the command may run before it counts as failed. */
const commandTimeoutMs = 5 * 60_000;

/** The checks from update.conf's keys; a bad unit name is a problem naming its key. */
export function preRebootOf(values: Record<string, string>, where: (key: string) => string, problems: string[]): PreRebootChecks {
  const units = (values.PRE_REBOOT_UNITS ?? '').split(/[\s,]+/).filter(Boolean);
  const bad = units.filter((u) => !isValidUnitName(u));
  if (bad.length) problems.push(`${where('PRE_REBOOT_UNITS')}: expected unit names such as web.service, found ${bad.map((u) => `'${u.slice(0, 80)}'`).join(', ')}`);
  const checks: PreRebootChecks = { units: units.filter((u) => isValidUnitName(u)) };
  if (values.PRE_REBOOT_COMMAND?.trim()) checks.command = values.PRE_REBOOT_COMMAND;
  return checks;
}

export function hasPreRebootChecks(c: PreRebootChecks): boolean {
  return c.command !== undefined || c.units.length > 0;
}

/** Runs the checks through the process edge: undefined when all pass, otherwise why the node may not ask for a slot. */
export async function runPreRebootChecks(c: PreRebootChecks, run: RunCommand = runCommand): Promise<string | undefined> {
  if (c.command !== undefined) {
    const r = await run('/bin/sh', ['-c', c.command], { timeoutMs: commandTimeoutMs }).catch((error: Error) => error);
    const failed = r instanceof Error ? `could not start (${r.message})` : r.timedOut ? `did not finish within ${commandTimeoutMs / 60_000} min` : r.exitCode !== 0 ? (r.signal ? `was killed (${r.signal})` : `exited ${r.exitCode}`) : undefined;
    if (failed !== undefined) {
      const said = r instanceof Error ? '' : `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-1)[0]!.slice(0, 200);
      return `pre-reboot command ${JSON.stringify(c.command.slice(0, 200))} ${failed}${said ? `: ${said}` : ''}`;
    }
  }
  if (c.units.length > 0) {
    const r = await run('systemctl', ['is-active', '--', ...c.units]).catch((error: Error) => error);
    if (r instanceof Error) return `pre-reboot units: cannot ask systemctl (${r.message})`;
    const states = r.stdout.split('\n');
    const inactive = c.units.map((u, i) => [u, states[i]?.trim() || 'unknown'] as const).filter(([, s]) => s !== 'active');
    if (inactive.length) return `pre-reboot units not active: ${inactive.map(([u, s]) => `${u} (${s})`).join(', ')}`;
  }
  return undefined;
}
