/**
 * Commands: `bootcmd` (every boot), `runcmd` and `#!` user-data (once per instance), and,
 * on an offline root, the unit commands too. On a live host they run during apply. On an
 * offline root (an image being prepared) nothing can run yet, so they become scripts under
 * /var/lib/keel/scripts and oneshot units enabled to run them on boot: keel-bootcmd.service
 * every boot, keel-firstboot.service once (a `.done` marker is written when it has run,
 * whether the script succeeded or not, as cloud-init runs runcmd once).
 */
import type { CommandLine, Unit } from './model.js';
import type { FileBody } from './operation.js';
import { bytes } from './plan-context.js';
import { safeInstanceName } from './instance-id.js';
import type { PlannedUnitCommand } from './plan-units.js';
import { printUnitFile, unitFileOf } from '../systemd/unit-file.js';

export const scriptsDir = '/var/lib/keel/scripts';
export const firstBootUnit = 'keel-firstboot.service';
export const bootcmdUnit = 'keel-bootcmd.service';

/** Single-quotes a word for sh. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A command line as a line of sh: a string as it is, a list as quoted words. */
export function shellLine(command: CommandLine): string {
  return typeof command === 'string' ? command : command.map(shellQuote).join(' ');
}

/** The argv that runs a command line: a list as it is, a string through sh -c. */
export function argvOf(command: CommandLine): string[] {
  return typeof command === 'string' ? ['/bin/sh', '-c', command] : command;
}

function script(comment: string, lines: string[]): string {
  return ['#!/bin/sh', `# ${comment}`, ...lines, ''].join('\n');
}

/** The offline bootcmd script and the unit that runs it every boot. */
export function bootcmdArtifacts(commands: CommandLine[]): { file: FileBody; unit: Unit } {
  const path = `${scriptsDir}/bootcmd.sh`;
  const unit = unitFileOf({
    Unit: [['Description', 'keel bootcmd (every boot)'], ['After', 'local-fs.target'], ['Before', firstBootUnit]],
    Service: [['Type', 'oneshot'], ['ExecStart', path]],
    Install: [['WantedBy', 'multi-user.target']],
  });
  return {
    file: { path, content: bytes(script('written by keel cloud-config: bootcmd, run on every boot by keel-bootcmd.service', commands.map(shellLine))), mode: 0o700 },
    unit: { name: bootcmdUnit, content: printUnitFile(unit), enable: true, dropIns: [] },
  };
}

/**
 * The offline first-boot script (a `#!` user-data as it is, or the unit commands then the
 * runcmd lines) and the unit that runs it once.
 */
export function firstBootArtifacts(instanceId: string, body: { script: string } | { unitCommands: PlannedUnitCommand[]; runcmd: CommandLine[] }): { file: FileBody; unit: Unit } {
  const name = safeInstanceName(instanceId);
  const path = `${scriptsDir}/${name}.sh`;
  const done = `${scriptsDir}/${name}.done`;
  const text =
    'script' in body
      ? body.script
      : script(`written by keel cloud-config for instance ${instanceId}: unit commands, then runcmd; run once by ${firstBootUnit}`, [
          // --no-block: this runs inside a boot job; waiting on other jobs could deadlock.
          ...body.unitCommands.map((c) => `systemctl --no-block ${c.command} ${shellQuote(c.unit)}`),
          ...body.runcmd.map(shellLine),
        ]);
  const unit = unitFileOf({
    Unit: [['Description', `keel first-boot commands for instance ${instanceId.replace(/%/g, '%%')}`], ['Wants', 'network-online.target'], ['After', 'network-online.target'], ['ConditionPathExists', `!${done}`]],
    Service: [['Type', 'oneshot'], ['ExecStart', path], ['ExecStopPost', `/usr/bin/touch ${done}`]],
    Install: [['WantedBy', 'multi-user.target']],
  });
  return { file: { path, content: bytes(text), mode: 0o700 }, unit: { name: firstBootUnit, content: printUnitFile(unit), enable: true, dropIns: [] } };
}
