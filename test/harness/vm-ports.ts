/**
 * A test VM's forwarded ports: host port → guest sshd and guest ports the test asked for.
 * Chosen once and kept across a cold restart after a guest reboot (so an ssh waiting
 * through the reboot reaches the new run); cleared when qemu could not bind them or the
 * test restarts the VM with another network.
 */
import { freePort } from './free-port.js';
import type { UserNetSpec } from './qemu-args.js';
import { repoPath, type VmNet } from './vm-options.js';

export class VmPorts {
  /** Host port forwarded to the guest's sshd, when networking has ssh. */
  sshPort?: number;
  private readonly forwards = new Map<number, number>();

  constructor(private readonly vmName: string) {}

  /** The host port forwarded to `guestPort` (from net.forwardGuestPorts). */
  hostPort(guestPort: number): number {
    const p = this.forwards.get(guestPort);
    if (p === undefined) throw new Error(`vm ${this.vmName}: guest port ${guestPort} is not forwarded`);
    return p;
  }

  /** qemu's user network for `net`, with free ports for the forwards not chosen yet. */
  async netSpec(net: VmNet): Promise<UserNetSpec> {
    if (net.ssh !== false && this.sshPort === undefined) this.sshPort = await freePort();
    for (const g of net.forwardGuestPorts ?? []) if (!this.forwards.has(g)) this.forwards.set(g, await freePort());
    return {
      sshPort: net.ssh !== false ? this.sshPort : undefined,
      hostForwards: [...this.forwards].map(([guestPort, hostPort]) => ({ guestPort, hostPort })),
      guestForwards: net.guestForwards,
      restrict: net.restrict ?? !net.tftpRoot,
      tftpRoot: net.tftpRoot ? repoPath(net.tftpRoot) : undefined,
      bootFile: net.bootFile,
      bootIndex: net.bootIndex,
      model: net.model,
      romFile: net.romFile,
    };
  }

  clear(): void {
    this.forwards.clear();
    this.sshPort = undefined;
  }
}
