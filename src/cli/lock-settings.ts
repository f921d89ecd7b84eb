/**
 * Where `keel lock` finds the lock: the connection options every lock command shares and
 * lock.conf with the command-line flags laid over it.
 */
import type { LockSettings } from '../lock/lock-settings.js';
import { type CommandContext, type OptionSpec, stringOption } from './command.js';
import { defaultLockConfPath, readLockConf } from '../lock/lock-conf.js';
import { readLocalMember, withLocalMember } from '../lock/local-member.js';
import { checkGroup, defaultGroup } from '../lock/group-keys.js';
import { readDurationMs } from '../duration.js';

/** Where to find the lock: shared by every `keel lock` command; flags override lock.conf. */
export const connectionOptions: Record<string, OptionSpec> = {
  config: { type: 'string', valueName: 'FILE', description: `lock settings env file (default ${defaultLockConfPath}, if present)` },
  endpoints: { type: 'string', valueName: 'URL,…', description: 'etcd client URLs, comma-separated' },
  group: { type: 'string', valueName: 'NAME', description: `reboot group (default ${defaultGroup}; ^[a-zA-Z0-9.-]+$)` },
  cacert: { type: 'string', valueName: 'FILE', description: 'CA certificate that signed the etcd (or, with --fleetlock, the FleetLock) server certificate' },
  cert: { type: 'string', valueName: 'FILE', description: 'client certificate for etcd (or, with --fleetlock, one whose CN is the node id)' },
  key: { type: 'string', valueName: 'FILE', description: 'key of --cert' },
  user: { type: 'string', valueName: 'NAME', description: 'etcd user name' },
  password: { type: 'string', valueName: 'PW', description: 'etcd password (or KEEL_ETCD_PASSWORD in the environment)' },
  'max-hold': { type: 'string', valueName: 'D', description: 'release holders older than D when the group is full (off by default)' },
};
/**
 * lock.conf (if any) with the command-line flags laid over it; where neither names etcd nor a
 * FleetLock server, the etcd member cloud-config configured on this host (local-member.ts).
 */
export function lockSettingsOf(ctx: CommandContext): LockSettings {
  const configPath = stringOption(ctx.values, 'config');
  const base = readLockConf(configPath ?? defaultLockConfPath, configPath !== undefined) ?? { endpoints: [] };
  const flag = (name: string) => stringOption(ctx.values, name);
  const endpoints = flag('endpoints');
  let settings: LockSettings = { ...base, ...(endpoints !== undefined ? { endpoints: endpoints.split(',').map((e) => e.trim()).filter(Boolean) } : {}) };
  const overrides: [keyof LockSettings, string | undefined][] = [
    ['group', flag('group')],
    ['cafile', flag('cacert')],
    ['certfile', flag('cert')],
    ['keyfile', flag('key')],
    ['username', flag('user')],
    ['password', flag('password') ?? (flag('user') !== undefined ? process.env.KEEL_ETCD_PASSWORD : undefined)],
    ['fleetlockUrl', flag('fleetlock')],
    ['maxHold', flag('max-hold')],
  ];
  for (const [k, v] of overrides) if (v !== undefined) (settings as unknown as Record<string, string>)[k] = v;
  settings = withLocalMember(settings, readLocalMember('/'));
  checkGroup(settings.group ?? defaultGroup);
  if (settings.maxHold) readDurationMs(settings.maxHold, '--max-hold', { bare: 'seconds' });
  return settings;
}
