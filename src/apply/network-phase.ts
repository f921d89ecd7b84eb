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

/**
 * Starts `network-online.target` and waits for its job: the job joins the boot's own, so
 * this returns when systemd-networkd-wait-online does. A wait that ends otherwise (no link
 * came up before its timeout) is logged and the apply goes on: the commands then meet the
 * network as it is, as they would have after the boot's target.
 */
export async function waitNetworkOnline(units: UnitManager, log: Logger): Promise<void> {
  const startedMs = Date.now();
  try {
    const r = await units.runUnitCommand(networkOnlineTarget, 'start');
    const tookS = ((Date.now() - startedMs) / 1000).toFixed(1);
    if (r.result === 'done') log.info(`network online after ${tookS} s of waiting`);
    else log.warning(`waiting for ${networkOnlineTarget} ended with result '${r.result}' after ${tookS} s, expected 'done'; going on without it`);
  } catch (error) {
    log.warning(`cannot wait for ${networkOnlineTarget}: ${(error as Error).message}; going on without it`);
  }
}
