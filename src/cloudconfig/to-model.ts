/**
 * The walked cloud-config (model pieces keyed by YAML section) → the one CloudConfig model.
 * `coreos:` and `keel:` land on the same fields; `keel:` wins field by field, units are
 * `coreos.units` then `keel.units`, and `keel.etcd` replaces `coreos.etcd2` key by key.
 */
import type { CloudConfig, CommandLine, ContainersSettings, EtcdSettings, Unit, User, WriteFile } from './model.js';
import type { LockSettings } from '../lock/lock-settings.js';
import type { UpdateSettings } from '../update/update-settings.js';

type Section = Record<string, unknown> | undefined;

/** Assembles the model; `v` is the value cloudConfigSchema's walk returned. */
export function toCloudConfig(v: Record<string, unknown>): CloudConfig {
  const coreos = v.coreos as Section;
  const keel = v.keel as Section;
  const update: UpdateSettings = { windows: [], ...(coreos?.update as Partial<UpdateSettings> | undefined), ...(keel?.update as Partial<UpdateSettings> | undefined) };
  const lock: LockSettings = { endpoints: [], ...(coreos?.locksmith as Partial<LockSettings> | undefined), ...(keel?.lock as Partial<LockSettings> | undefined) };
  const etcd2 = coreos?.etcd2 as EtcdSettings | undefined;
  const keelEtcd = keel?.etcd as EtcdSettings | undefined;
  const etcd = etcd2 || keelEtcd ? { environment: { ...etcd2?.environment, ...keelEtcd?.environment } } : undefined;
  const config: CloudConfig = {
    sshAuthorizedKeys: (v.ssh_authorized_keys as string[] | undefined) ?? [],
    users: defined(v.users as (User | undefined)[] | undefined),
    writeFiles: defined(v.write_files as (WriteFile | undefined)[] | undefined),
    runcmd: (v.runcmd as CommandLine[] | undefined) ?? [],
    bootcmd: (v.bootcmd as CommandLine[] | undefined) ?? [],
    units: [...defined(coreos?.units as (Unit | undefined)[] | undefined), ...defined(keel?.units as (Unit | undefined)[] | undefined)],
    update,
    lock,
    containers: (keel?.containers as ContainersSettings | undefined) ?? { specs: [], discoveryEndpoints: [] },
  };
  if (v.hostname !== undefined) config.hostname = v.hostname as string;
  if (v.manage_etc_hosts !== undefined) config.manageEtcHosts = 'localhost';
  if (v.timezone !== undefined) config.timezone = v.timezone as string;
  if (etcd) config.etcd = etcd;
  const oem = coreos?.oem as Record<string, string> | undefined;
  if (oem && Object.keys(oem).length > 0) config.oem = oem;
  return config;
}

function defined<T>(items: (T | undefined)[] | undefined): T[] {
  return (items ?? []).filter((x): x is T => x !== undefined);
}

/** The model of an empty document (or empty user-data): nothing to do. */
export function emptyCloudConfig(): CloudConfig {
  return toCloudConfig({});
}
