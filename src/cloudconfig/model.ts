/**
 * The validated cloud-config: what `validate` produces and `plan` consumes.
 * Keys are camelCase here; the YAML may spell them with `-` or `_` (CoreOS treats them as one).
 * Both `coreos:` (CoreOS names) and `keel:` are read onto this one model; `keel:` wins
 * where both set the same field.
 */
import type { ContainerSpec } from '../containers/spec.js';
import type { UnitCommand } from '../systemd/unit-command.js';
import type { LockSettings } from '../lock/lock-settings.js';
import type { UpdateSettings } from '../update/update-settings.js';

/** A command as cloud-init takes it: a shell string, or an argv list run without a shell. */
export type CommandLine = string | string[];

export interface User {
  name: string;
  /** Password hash as in /etc/shadow (never plain text). */
  passwd?: string;
  gecos?: string;
  homedir?: string;
  noCreateHome?: boolean;
  primaryGroup?: string;
  groups: string[];
  noUserGroup?: boolean;
  system?: boolean;
  noLogInit?: boolean;
  shell?: string;
  sshAuthorizedKeys: string[];
  /** cloud-init's `sudo`: sudoers rule lines, e.g. `ALL=(ALL) NOPASSWD:ALL`; false = none. */
  sudo?: string[];
  /** cloud-init's `lock_passwd`: lock password login (the account stays usable with keys). */
  lockPasswd?: boolean;
}

export type FileEncoding = 'plain' | 'base64' | 'gzip' | 'gzip+base64';

export interface WriteFile {
  path: string;
  /** Decoded bytes of `content` after `encoding`. */
  content: Uint8Array;
  /** `user`, `user:group` or numeric ids; default root:root. */
  owner?: string;
  /** File mode as a number (from the octal string), default 0o644. */
  permissions: number;
  /** cloud-init's `append`: add to the end of an existing file instead of replacing it. */
  append: boolean;
}

export interface DropIn {
  name: string;
  content: string;
}

export interface Unit {
  name: string;
  content?: string;
  enable?: boolean;
  /** Write under /run/systemd/system (gone after reboot) instead of /etc/systemd/system. */
  runtime?: boolean;
  mask?: boolean;
  dropIns: DropIn[];
  command?: UnitCommand;
}

/** `keel.etcd` (and `coreos.etcd2`): etcd member settings, written as the etcd unit's environment. */
export interface EtcdSettings {
  /** Environment as `ETCD_<UPPER_SNAKE>` → value, from keys like `advertise_client_urls`. */
  environment: Record<string, string>;
}

/** `keel.containers`: container specs plus the discovery settings of the supervisor. */
export interface ContainersSettings {
  specs: ContainerSpec[];
  /** etcd endpoints for service discovery announcements; none = off. */
  discoveryEndpoints: string[];
}

export interface CloudConfig {
  hostname?: string;
  /** Only `localhost` is meaningful (writes `127.0.0.1 <hostname>` to /etc/hosts). */
  manageEtcHosts?: 'localhost';
  /** Top-level keys, for the default user `core`. */
  sshAuthorizedKeys: string[];
  users: User[];
  writeFiles: WriteFile[];
  /** Run once per instance, after everything else, in order. */
  runcmd: CommandLine[];
  /** Run on every boot, before everything else. */
  bootcmd: CommandLine[];
  timezone?: string;
  /** `coreos.units` followed by `keel.units`, in order. */
  units: Unit[];
  /** `keel.update` over `coreos.update`: what /etc/keel/update.conf gets. */
  update: UpdateSettings;
  /** `keel.lock` over `coreos.locksmith`: what /etc/keel/lock.conf gets. */
  lock: LockSettings;
  etcd?: EtcdSettings;
  /** `coreos.oem`: id, name, version_id, home_url, bug_report_url → /etc/oem-release. */
  oem?: Record<string, string>;
  containers: ContainersSettings;
}

/** User-data as it arrives from a datasource, after the header is read. */
export type UserData =
  | { kind: 'cloud-config'; text: string }
  | { kind: 'script'; text: string }
  | { kind: 'empty' };
