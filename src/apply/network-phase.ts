/**
 * The first boot's two phases, as cloud-init's init-local and final stages: keel-cloudinit
 * starts before the network is up (hostname, users, files, units, bootcmd need only the
 * disks), and waits for `network-online.target` only where something needs the network:
 * a datasource read over HTTP, and the commands that users expect to find a network (unit
 * commands, the `#!` script, runcmd), which cloud-init runs after the network too.
 */
import type { Operation } from '../cloudconfig/operation.js';
import { configUrlFromCmdline } from '../cloudconfig/datasources/cmdline.js';
import { seedUrlFromCmdline } from '../cloudconfig/datasources/nocloud-url.js';
import type { Logger } from '../log.js';
import type { UnitManager } from '../host/unit-manager.js';

export const networkOnlineTarget = 'network-online.target';

/** Whether performing `op` waits for the network first (pure). */
export function needsNetwork(op: Operation): boolean {
  return op.kind === 'unit-command' || op.kind === 'run-script' || op.kind === 'run-commands';
}

/**
 * Whether detecting the datasource needs the network (pure): the kernel command line names
 * an http(s) config or NoCloud seed URL, or an EC2-style metadata URL was given. A `file://`
 * URL and the local disks (NoCloud, config-drive) are read before the network is up.
 */
export function detectionNeedsNetwork(cmdline: string, metadataUrl?: string): boolean {
  const remote = (url: string | undefined) => url !== undefined && /^https?:\/\//i.test(url);
  return remote(metadataUrl) || remote(configUrlFromCmdline(cmdline)) || remote(seedUrlFromCmdline(cmdline));
}

/** How often the routing table is read while waiting: a file read, cheap beside the wait. */
const routePollMs = 100;

/**
 * Starts `network-online.target` and waits for its job: the job joins the boot's own, so
 * this returns when systemd-networkd-wait-online does. Given `usableRoute` (keel runs in the
 * host's network namespace), it returns as soon as that says an IPv4 default route is up:
 * the first usable lease, without the IPv6 link-local address networkd also waits for. A
 * wait that ends otherwise (no link came up before its timeout) is logged and the apply goes
 * on: the commands then meet the network as it is, as they would have after the boot's target.
 */
export async function waitNetworkOnline(units: UnitManager, log: Logger, usableRoute?: () => Promise<string | undefined>): Promise<void> {
  const startedMs = Date.now();
  const took = () => ((Date.now() - startedMs) / 1000).toFixed(1);
  let waiting = true;
  const target = units.runUnitCommand(networkOnlineTarget, 'start').then(
    (r) => ({ via: 'target' as const, result: r.result }),
    (error: Error) => ({ via: 'error' as const, error }),
  );
  const route = usableRoute ? pollRoute(usableRoute, () => waiting) : new Promise<never>(() => {});
  const first = await Promise.race([target, route]);
  waiting = false;
  if (first.via === 'route') log.info(`network online after ${took()} s of waiting (an IPv4 default route via ${first.iface}; ${networkOnlineTarget} not waited for)`);
  else if (first.via === 'error') log.warning(`cannot wait for ${networkOnlineTarget}: ${first.error.message}; going on without it`);
  else if (first.result === 'done') log.info(`network online after ${took()} s of waiting`);
  else log.warning(`waiting for ${networkOnlineTarget} ended with result '${first.result}' after ${took()} s, expected 'done'; going on without it`);
}

/** Resolves when `usableRoute` names an interface; stops quietly once `stillWaiting` says so. */
async function pollRoute(usableRoute: () => Promise<string | undefined>, stillWaiting: () => boolean): Promise<{ via: 'route'; iface: string }> {
  while (stillWaiting()) {
    const iface = await usableRoute().catch(() => undefined);
    if (iface) return { via: 'route', iface };
    await new Promise((resolve) => setTimeout(resolve, routePollMs));
  }
  return new Promise(() => {});
}
