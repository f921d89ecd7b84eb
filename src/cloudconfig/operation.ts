/**
 * The operations a cloud-config becomes: a description of everything apply will do, in
 * order, computed before anything is written (plan, then apply). Paths are absolute in
 * the host's view; the applier resolves them inside its root.
 */
import type { CommandLine } from './model.js';
import type { UnitCommand } from '../systemd/unit-command.js';

/** A file's bytes with its mode and owner (`user[:group]` or ids, resolved at apply time). */
export interface FileBody {
  path: string;
  content: Uint8Array;
  mode: number;
  /** Absent: root:root. */
  owner?: string;
  /** Add to the end of an existing file instead of replacing it. */
  append?: boolean;
}

/** An account to ensure: created when absent; an existing one keeps its ids, home and groups. */
export interface UserSpec {
  name: string;
  gecos?: string;
  homedir?: string;
  noCreateHome?: boolean;
  primaryGroup?: string;
  groups: string[];
  /** Groups to join only when they already exist (the default user's sudo, docker...). */
  groupsIfPresent?: string[];
  noUserGroup?: boolean;
  system?: boolean;
  shell?: string;
}

/** What a keel-written configuration file is for (shown by plan, kept in the record). */
export type ConfigPurpose = 'update' | 'lock' | 'container';

export type Operation =
  /** Live host: run `bootcmd` lines now, every boot. */
  | { kind: 'run-bootcmd'; commands: CommandLine[] }
  | { kind: 'set-hostname'; hostname: string; file: FileBody }
  | { kind: 'write-hosts'; hostname: string; file: FileBody }
  /** /etc/localtime → /usr/share/zoneinfo/ZONE and /etc/timezone. */
  | { kind: 'set-timezone'; zone: string; file: FileBody; link: { path: string; target: string } }
  | { kind: 'create-group'; name: string; system: boolean }
  | { kind: 'create-user'; user: UserSpec }
  /** `hash` absent: keep the current one; `lock`: prefix it with `!`. */
  | { kind: 'set-password'; user: string; hash?: string; lock: boolean }
  | { kind: 'install-ssh-keys'; user: string; keys: string[] }
  | { kind: 'write-sudoers'; user: string; file: FileBody }
  | { kind: 'write-file'; file: FileBody }
  | { kind: 'write-oem-release'; file: FileBody }
  | { kind: 'write-keel-config'; purpose: ConfigPurpose; file: FileBody }
  | { kind: 'write-etcd-environment'; file: FileBody }
  | { kind: 'write-unit'; unit: string; runtime: boolean; file: FileBody }
  | { kind: 'write-drop-in'; unit: string; name: string; runtime: boolean; file: FileBody }
  | { kind: 'mask-unit'; unit: string; runtime: boolean; path: string }
  | { kind: 'enable-unit'; unit: string; runtime: boolean }
  | { kind: 'daemon-reload' }
  /** `noBlock`: queue the job and go on (`systemctl --no-block`), for a unit whose readiness waits on other hosts. */
  | { kind: 'unit-command'; unit: string; command: UnitCommand; noBlock?: true }
  /** Live host: run a `#!` user-data script (already written to `path`) as a transient unit. */
  | { kind: 'run-script'; path: string; unitName: string }
  /** Live host: run `runcmd` lines in order. */
  | { kind: 'run-commands'; commands: CommandLine[] }
  /** Last: the instance record. `bootcmds` counts the lines every later boot runs again (keel-cloudinit-check reads it). */
  | { kind: 'record-instance'; instanceId: string; userDataSha256: string; bootcmds: number };

export type OperationKind = Operation['kind'];

/** The file an operation writes, if it writes one. */
export function fileOf(op: Operation): FileBody | undefined {
  return 'file' in op ? op.file : undefined;
}

/** Operations a host must be live for (systemd running): everything else is filesystem work. */
export function isLiveOperation(op: Operation): boolean {
  return op.kind === 'daemon-reload' || op.kind === 'unit-command' || op.kind === 'run-script' || op.kind === 'run-commands' || op.kind === 'run-bootcmd';
}
