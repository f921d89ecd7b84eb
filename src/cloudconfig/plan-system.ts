/**
 * Host identity: hostname (/etc/hostname), /etc/hosts for `manage_etc_hosts: localhost`,
 * and the time zone (/etc/localtime link and /etc/timezone). The cloud-config's hostname
 * wins over the datasource's, as in coreos-cloudinit.
 */
import type { CloudConfig } from './model.js';
import type { Metadata } from './metadata.js';
import { type PlanBuilder, bytes } from './plan-context.js';

/** RFC 1123 host names: labels of letters, digits and '-', at most 253 characters. */
const hostnamePattern = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** tz database names: `Europe/Berlin`, `UTC`, `Etc/GMT+5`; no `..`, no leading `/`. */
const zonePattern = /^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/;

export function planSystem(b: PlanBuilder, config: CloudConfig | undefined, metadata: Metadata): void {
  const hostname = config?.hostname ?? metadata.hostname;
  if (hostname !== undefined) {
    if (!hostnamePattern.test(hostname)) b.refuse(`hostname ${JSON.stringify(hostname)} is not a valid host name (letters, digits, '-' and '.', at most 253); refusing to apply`);
    else b.add({ kind: 'set-hostname', hostname, file: { path: '/etc/hostname', content: bytes(`${hostname}\n`), mode: 0o644 } });
  }
  if (config?.manageEtcHosts === 'localhost') {
    if (hostname === undefined || !hostnamePattern.test(hostname)) {
      b.note('manage_etc_hosts: localhost needs a hostname (from the config or the datasource); /etc/hosts is left alone');
    } else {
      const short = hostname.split('.')[0] ?? hostname;
      const names = short === hostname ? hostname : `${hostname} ${short}`;
      const text = ['# written by keel cloud-config (manage_etc_hosts: localhost)', `127.0.0.1 ${names}`, '127.0.0.1 localhost', '::1 localhost ip6-localhost ip6-loopback', ''].join('\n');
      b.add({ kind: 'write-hosts', hostname, file: { path: '/etc/hosts', content: bytes(text), mode: 0o644 } });
    }
  }
  if (config?.timezone !== undefined) {
    const zone = config.timezone;
    if (!zonePattern.test(zone) || zone.split('/').includes('..')) b.refuse(`timezone ${JSON.stringify(zone)} is not a tz database name such as Europe/Berlin or UTC; refusing to apply`);
    else
      b.add({
        kind: 'set-timezone',
        zone,
        file: { path: '/etc/timezone', content: bytes(`${zone}\n`), mode: 0o644 },
        link: { path: '/etc/localtime', target: `/usr/share/zoneinfo/${zone}` },
      });
  }
}
