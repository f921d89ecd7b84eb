/**
 * keel's kola: boots a keel image in qemu (TCG) for a test, with disks as qcow2 overlays
 * (the built image is never modified), an optional NoCloud seed and user-mode networking;
 * timestamps the serial console, waits for markers with timeouts, runs commands over SSH,
 * keeps the logs of a failed test under build/test-logs/<test>/ and always kills the VM.
 * Here: the VM's life (launch, cold restart after a guest reboot, kill, close). Options:
 * vm-options.ts; disks: vm-disks.ts; ports: vm-ports.ts; console and markers: vm-console.ts;
 * the process: qemu-process.ts; ssh: ssh.ts.
 *
 *   await withVm({ name: 'first-boot', boot: { kind: 'direct', append: 'console=ttyS0 keel.slot=a' },
 *                  disks: [{ image: 'build/keel.img' }], seed: { userData } }, async (vm) => {
 *     expect((await vm.ssh('hostname')).stdout.trim()).toBe('node1');
 *   });
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { qemuArgs, shellQuote, type DriveSpec, type QemuSpec } from './qemu-args.js';
import { QemuProcess, type QemuExit } from './qemu-process.js';
import { qmpCommand } from './qmp.js';
import type { MarkerMatch, SerialLog } from './serial-log.js';
import { sshRun, testSshKey, type SshOptions, type SshResult } from './ssh.js';
import { VmConsole } from './vm-console.js';
import { bootSpec, prepareDrives } from './vm-disks.js';
import { repoRoot, safeName, type RebootMode, type VmBoot, type VmNet, type VmOptions } from './vm-options.js';
import { VmPorts } from './vm-ports.js';

export { freePort } from './free-port.js';
export { ovmfCode, ovmfVarsTemplate, repoRoot, type VmBoot, type VmDisk, type VmNet, type VmOptions } from './vm-options.js';

/** A running (or stopped, restartable) test VM. Make one with `startVm` or `withVm`. */
export class Vm {
  readonly logDir: string;
  readonly workDir: string;
  private readonly qmpSocket: string;
  /** Set when a harness call failed: close() then keeps the logs. */
  failed = false;
  private readonly console: VmConsole;
  private readonly ports: VmPorts;
  private qemu?: QemuProcess;
  private drives: DriveSpec[] = [];
  private boot: VmBoot;
  private t0 = 0;
  /** A cold restart after a guest reboot, while it is under way. */
  private relaunching?: Promise<void>;
  /** Set while kill() runs, and by reset(): an exit then is not taken for a guest reboot. */
  private stopping = false;
  private resetRequested = false;
  /** How qemu last ended for good (not a cold restart after a reboot). */
  private ended?: QemuExit;

  constructor(readonly options: VmOptions) {
    this.logDir = join(repoRoot, 'build', 'test-logs', safeName(options.name));
    this.workDir = mkdtempSync(join(tmpdir(), `keel-vm-${safeName(options.name).slice(0, 20)}-`));
    this.qmpSocket = join(this.workDir, 'qmp.sock');
    this.boot = options.boot;
    this.console = new VmConsole(safeName(options.name), options.echo || process.env.KEEL_VM_ECHO === '1');
    this.ports = new VmPorts(options.name);
  }

  /** The console as timestamped lines, across qemu runs. */
  get serial(): SerialLog {
    return this.console.serial;
  }

  /** Host port forwarded to the guest's sshd, when networking has ssh. */
  get sshPort(): number | undefined {
    return this.ports.sshPort;
  }

  /** The public key a cloud-config should authorize so `ssh()` can log in. */
  get publicKey(): string {
    return testSshKey().publicKey;
  }

  /** The host port forwarded to `guestPort` (from net.forwardGuestPorts). */
  hostPort(guestPort: number): number {
    return this.ports.hostPort(guestPort);
  }

  /** The file qemu writes for disk `i` (an overlay): inspect it after the VM stopped. */
  diskFile(i: number): string {
    const d = this.drives[i];
    if (!d) throw new Error(`vm ${this.options.name}: no disk ${i}`);
    return d.file;
  }

  /** The qemu process id of the current run (its process group id too). */
  get pid(): number | undefined {
    return this.qemu?.pid;
  }

  /** True while qemu runs, including the moment between a guest reboot and its cold restart. */
  get running(): boolean {
    return this.relaunching !== undefined || (this.qemu?.alive ?? false);
  }

  private get rebootMode(): RebootMode {
    return this.options.onReboot ?? (this.boot.kind === 'uefi' ? 'restart' : 'reset');
  }

  /** Prepares disks, seed and firmware vars once, then starts qemu. */
  async start(): Promise<void> {
    rmSync(this.logDir, { recursive: true, force: true });
    mkdirSync(this.logDir, { recursive: true });
    this.console.open(join(this.logDir, 'serial.log'));
    this.drives = await prepareDrives(this.options.name, this.workDir, this.options.disks ?? [], this.options.seed);
    await this.launch();
  }

  private async spec(): Promise<QemuSpec> {
    const o = this.options;
    const net = o.net === false ? undefined : (o.net ?? {});
    return {
      boot: bootSpec(this.boot, this.workDir),
      drives: this.drives,
      net: net ? await this.ports.netSpec(net) : undefined,
      ...(o.segment ? { segment: o.segment } : {}),
      memoryMiB: o.memoryMiB ?? 1024,
      cpus: o.cpus ?? 1,
      machine: o.machine ?? 'q35',
      cpu: o.cpu ?? 'max',
      noReboot: this.rebootMode !== 'reset',
      qmpSocket: this.qmpSocket,
      extraArgs: o.extraArgs,
    };
  }

  /** Starts qemu; retries with new ports when a forward could not bind (a race with others). */
  private async launch(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const spec = await this.spec();
      const argv = ['qemu-system-x86_64', ...qemuArgs(spec)];
      writeFileSync(join(this.logDir, 'qemu.cmdline'), shellQuote(argv) + '\n', { flag: 'a' });
      rmSync(spec.qmpSocket!, { force: true });
      const qemu = this.spawn(argv);
      if (await qemu.started(this.qmpSocket)) return;
      const bindFailure = /host forwarding rule|Address already in use/i.test(qemu.stderrTail);
      if (!bindFailure || attempt >= 3) {
        this.failed = true;
        throw new Error(`vm ${this.options.name}: qemu did not start: ${qemu.stderrTail.trim()}\n(logs: ${this.logDir})`);
      }
      this.ports.clear();
    }
  }

  private spawn(argv: string[]): QemuProcess {
    this.t0 = Date.now();
    this.console.note(`qemu run #${this.console.startRun(this.t0)} at ${new Date(this.t0).toISOString()}`);
    this.qemu = new QemuProcess(argv, join(this.logDir, 'qemu.stderr'), {
      stdout: (chunk) => this.console.feed(chunk),
      closed: (exit) => this.closed(exit),
    });
    return this.qemu;
  }

  /** qemu ended: a guest reboot under `onReboot: 'restart'` starts it again, else it is over. */
  private closed(exit: QemuExit): void {
    this.console.flush();
    this.console.note(`qemu exited: ${exit.signal ?? `code ${exit.code}`} after ${((Date.now() - this.t0) / 1000).toFixed(1)} s`);
    const rebooted = exit.code === 0 && (this.resetRequested || this.serial.endedInReboot());
    this.resetRequested = false;
    if (rebooted && this.rebootMode === 'restart' && !this.stopping) {
      this.relaunch();
    } else {
      this.ended = exit;
      this.console.ended();
    }
  }

  /** Starts qemu again after a guest reboot; waits and markers carry on across it. */
  private relaunch(): void {
    this.console.note('guest reboot: qemu starts again (a cold boot)');
    this.relaunching = this.launch()
      .catch((error: Error) => {
        this.failed = true;
        if (this.qemu) this.qemu.stderrTail += `\n${error.message}`;
        this.console.ended();
      })
      .finally(() => {
        this.relaunching = undefined;
      });
  }

  /** Milliseconds since the current qemu run started. */
  elapsedMs(): number {
    return Date.now() - this.t0;
  }

  /**
   * Marks the VM failed (close() keeps its logs) and makes the error a harness call throws;
   * failure.txt keeps it for `make test-e2e`, which prints it last, where a CI summary that
   * keeps only the end of the output still shows it.
   */
  private failure(message: string, cause?: unknown): Error {
    this.failed = true;
    const text = `vm ${this.options.name}: ${message}\n(logs: ${this.logDir})`;
    mkdirSync(this.logDir, { recursive: true });
    writeFileSync(join(this.logDir, 'failure.txt'), `${text}\n`, { flag: 'a' });
    return new Error(text, cause === undefined ? undefined : { cause });
  }

  /**
   * Waits for `pattern` on the console after the previous marker, and moves past it.
   * Fails with the last console lines when it times out or qemu exits first. `after`: search
   * from the line after that earlier marker instead (see SerialLog.take).
   */
  async waitFor(pattern: RegExp, opts: { timeoutMs: number; after?: MarkerMatch }): Promise<MarkerMatch> {
    return this.console.waitFor(
      pattern,
      opts.timeoutMs,
      {
        running: () => this.running,
        stderr: () => this.qemu?.stderrTail ?? '',
        fail: (why) =>
          this.failure(`${pattern} ${why} (${(this.elapsedMs() / 1000).toFixed(1)} s into qemu run); last console lines:\n${this.serial.tail(40)}`),
      },
      opts.after,
    );
  }

  /** Runs a command in the guest as root (or opts.user) over the forwarded SSH port. */
  async ssh(command: string, opts: SshOptions = {}): Promise<SshResult> {
    const port = this.sshPort;
    if (port === undefined) throw new Error(`vm ${this.options.name}: no ssh forward (net.ssh is false)`);
    try {
      return await sshRun(port, command, opts, () => this.running);
    } catch (error) {
      throw this.failure(`${(error as Error).message}\nlast console lines:\n${this.serial.tail(20)}`, error);
    }
  }

  /** Presses the ACPI power button (a clean guest shutdown). */
  async powerdown(): Promise<void> {
    await qmpCommand(this.qmpSocket, 'system_powerdown');
  }

  /** A hard reset, like the reset button (a cold restart of qemu with `onReboot: 'restart'`). */
  async reset(): Promise<void> {
    this.resetRequested = this.rebootMode === 'restart';
    await qmpCommand(this.qmpSocket, 'system_reset');
  }

  /** Waits for qemu to end by itself (guest poweroff, or reboot with `onReboot: 'stop'`). */
  async waitExit(opts: { timeoutMs: number }): Promise<QemuExit> {
    if (!this.qemu) throw new Error(`vm ${this.options.name}: not started`);
    if (!this.running && this.ended) return this.ended;
    if (await this.console.waitEnded(opts.timeoutMs)) return this.ended ?? { code: null, signal: null };
    throw this.failure(`qemu still running after ${opts.timeoutMs} ms; last console lines:\n${this.serial.tail(30)}`);
  }

  /** Kills qemu (process group, SIGKILL) and waits for it to be gone. */
  async kill(): Promise<void> {
    this.stopping = true;
    try {
      await this.relaunching;
      this.qemu?.kill();
      if (this.qemu) await this.qemu.exited;
    } finally {
      this.stopping = false;
    }
  }

  /**
   * Starts qemu again on the same disks (overlays and UEFI vars kept), killing it first if
   * it still runs; `boot` switches the boot path (e.g. from PXE to the installed disk) and
   * `net` the network (e.g. without its boot index).
   */
  async restart(opts: { boot?: VmBoot; net?: VmNet | false } = {}): Promise<void> {
    await this.kill();
    if (opts.boot) this.boot = opts.boot;
    if (opts.net !== undefined) this.options.net = opts.net;
    this.ports.clear();
    await this.launch();
  }

  /**
   * Kills the VM and deletes its working files. The logs stay in build/test-logs/<name>/
   * when the test failed (or KEEL_KEEP_LOGS=1); otherwise they are removed.
   */
  async close(opts: { failed?: boolean } = {}): Promise<void> {
    await this.kill();
    const keep = opts.failed || this.failed || process.env.KEEL_KEEP_LOGS === '1';
    await this.console.close();
    rmSync(this.workDir, { recursive: true, force: true });
    if (keep) process.stderr.write(`vm ${this.options.name}: logs kept in ${this.logDir}\n`);
    else rmSync(this.logDir, { recursive: true, force: true });
  }
}

/** Boots a VM; the caller must `close()` it (in `finally`). */
export async function startVm(options: VmOptions): Promise<Vm> {
  const vm = new Vm(options);
  try {
    await vm.start();
  } catch (error) {
    await vm.close({ failed: true });
    throw error;
  }
  return vm;
}

/** Boots a VM, runs `fn`, and always kills it; keeps the logs if `fn` throws. */
export async function withVm<T>(options: VmOptions, fn: (vm: Vm) => Promise<T>): Promise<T> {
  const vm = await startVm(options);
  try {
    const result = await fn(vm);
    await vm.close();
    return result;
  } catch (error) {
    await vm.close({ failed: true });
    throw error;
  }
}
