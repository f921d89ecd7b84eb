/**
 * `--device auto`: the kernel command line's keel.install.device= (if any) and the disks'
 * facts, through the rule in disk-choice.ts, to one device path or a refusal that lists
 * every disk with why it was not chosen.
 */
import { splitCmdline } from '../cloudconfig/datasources/cmdline.js';
import { KeelError } from '../errors.js';
import type { Logger } from '../log.js';
import { chooseDisk, deviceParameter, formatCandidates, printable, type DiskCandidate, type DiskFacts } from './disk-choice.js';

export interface AutoDeviceEnv {
  log: Logger;
  /** The kernel command line (/proc/cmdline). */
  cmdline(): string;
  diskFacts(): Promise<DiskFacts[]>;
}

export interface AutoDevice {
  path: string;
  rule: 'named' | 'only-blank-disk';
  candidates: DiskCandidate[];
}

/** keel.install.device='s value (the last one wins, as the kernel's own parameters); 'auto' counts as none. */
export function namedDevice(cmdline: string): string | undefined {
  let value: string | undefined;
  for (const word of splitCmdline(cmdline)) if (word.startsWith(`${deviceParameter}=`)) value = word.slice(deviceParameter.length + 1);
  return value === 'auto' ? undefined : value;
}

/** Chooses the install disk or throws a KeelError whose message lists the candidates, one a line. */
export async function resolveAutoDevice(minBytes: number, env: AutoDeviceEnv): Promise<AutoDevice> {
  const named = namedDevice(env.cmdline());
  const choice = chooseDisk(await env.diskFacts(), { named, minBytes });
  if (!choice.ok) throw new KeelError('conflict', `--device auto: ${choice.message}; the disks:\n${formatCandidates(choice.candidates)}`);
  const how = choice.rule === 'named' ? `named by ${deviceParameter}=${printable(named ?? '')}` : 'the only blank non-removable disk';
  env.log.info(`--device auto: ${printable(choice.path)} (${how}); the disks:\n${formatCandidates(choice.candidates)}`);
  return choice;
}
