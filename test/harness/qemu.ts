/**
 * keel's kola: boots a keel image in qemu (TCG) for a test, with disks as qcow2 overlays
 * (the built image is never modified), an optional NoCloud seed and user-mode networking;
 * timestamps the serial console, waits for markers with timeouts, runs commands over SSH,
 * keeps the logs of a failed test under build/test-logs/<test>/ and always kills the VM.
 *
 *   await withVm({ name: 'first-boot', boot: { kind: 'direct', append: 'console=ttyS0 keel.slot=a' },
 *                  disks: [{ image: 'build/keel.img' }], seed: { userData } }, async (vm) => {
 *     await vm.waitFor(/login:/, { timeoutMs: 120_000 });
 *     expect((await vm.ssh('hostname')).stdout.trim()).toBe('node1');
 *   });
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { copyFileSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { qemuArgs, shellQuote, type BootSpec, type DriveSpec, type QemuSpec } from './qemu-args.js';
import { qmpCommand } from './qmp.js';
import { formatSerialLine, SerialLog, type MarkerMatch } from './serial-log.js';
import { makeSeed, type SeedSpec } from './seed.js';
import { sshRun, testSshKey, type SshOptions, type SshResult } from './ssh.js';

/** The repository root: paths in VmOptions are relative to it. */
export const repoRoot = process.env.KEEL_REPO ?? fileURLToPath(new URL('../..', import.meta.url));

export const ovmfCode = '/usr/share/OVMF/OVMF_CODE.fd';
export const ovmfVarsTemplate = '/usr/share/OVMF/OVMF_VARS.fd';

/** How a test VM boots; paths default to the outputs of `make image`. */
export type VmBoot =
  | { kind: 'direct'; kernel?: string; initrd?: string; append: string }
  | { kind: 'uefi'; varsTemplate?: string }
  | { kind: 'bios' };

/** A disk: an overlay on a built image (default), a blank disk, or a file used as it is. */
export type VmDisk =
  | { image: string; format?: 'raw' | 'qcow2'; sizeMiB?: number; bootIndex?: number; serial?: string }
  | { blankMiB: number; bootIndex?: number; serial?: string }
  | { file: string; format: 'raw' | 'qcow2'; readOnly?: boolean; bootIndex?: number; serial?: string };

export interface VmNet {
  /** Forward a free 127.0.0.1 port to the guest's port 22 (default true). */
  ssh?: boolean;
  /** Guest ports to forward from free host ports; see `vm.hostPort(guestPort)`. */
  forwardGuestPorts?: number[];
  guestForwards?: { guestAddr: string; guestPort: number; hostPort: number }[];
  /** No way out of the guest except the forwards (default true unless tftp is used). */
  restrict?: boolean;
  tftpRoot?: string;
  bootFile?: string;
  bootIndex?: number;
}

export interface VmOptions {
  /** The test's name: its logs go to build/test-logs/<name>/. */
  name: string;
  boot: VmBoot;
  disks?: VmDisk[];
  seed?: SeedSpec;
  net?: VmNet | false;
  memoryMiB?: number;
  cpus?: number;
  machine?: string;
  cpu?: string;
  /**
   * What a guest reboot (or `reset()`) does. `reset`: qemu resets in place (its default).
   * `restart`: qemu ends and the harness starts it again at once on the same disks and
   * firmware vars, a cold boot; OVMF under TCG can spin forever in its own code after a
   * warm reset (seen twice in the update e2e, each time at one of its eight reboots).
   * `stop`: qemu ends and the test calls `restart()`. Default: `restart` for UEFI boots,
   * `reset` for the others.
   */
  onReboot?: 'reset' | 'restart' | 'stop';
  extraArgs?: string[];
  /** Copy the console to stderr as it comes (also with KEEL_VM_ECHO=1). */
  echo?: boolean;
}

const live = new Set<ChildProcess>();
/** How long console output must pause before a partial line (a prompt) may match. */
const quietMs = 150;
let exitHookInstalled = false;

/** Kills every VM of this process with its process group; runs on process exit too. */
function killAll(): void {
  for (const child of live) killGroup(child);
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      process.kill(process.pid, signal);
    });
  }
}

/** A free TCP port on 127.0.0.1 (bound then released; qemu's failure to bind is retried). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolvePort(addr.port) : reject(new Error('no port'))));
    });
  });
}

function abs(path: string): string {
  return isAbsolute(path) ? path : resolve(repoRoot, path);
}

function safeName(name: string): string {
  return name.replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80) || 'vm';
}

/** A running (or stopped, restartable) test VM. Make one with `startVm` or `withVm`. */
export class Vm {
  readonly serial = new SerialLog();
  readonly logDir: string;
  readonly workDir: string;
  /** Host port forwarded to the guest's sshd, when networking has ssh. */
  sshPort?: number;
  /** Set when a harness call failed: close() then keeps the logs. */
  failed = false;
  private child?: ChildProcess;
  private exit?: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly events = new EventEmitter();
  private readonly ports = new Map<number, number>();
  private drives: DriveSpec[] = [];
  private serialFile?: WriteStream;
  private stderrTail = '';
  private boot: VmBoot;
  private t0 = 0;
  /** A cold restart after a guest reboot, while it is under way. */
  private relaunching?: Promise<void>;
  /** Set while kill() runs, and by reset(): an exit then is not taken for a guest reboot. */
  private stopping = false;
  private resetRequested = false;
  /** How qemu last ended for good (not a cold restart after a reboot). */
  private ended?: { code: number | null; signal: NodeJS.Signals | null };

  constructor(readonly options: VmOptions) {
    this.logDir = join(repoRoot, 'build', 'test-logs', safeName(options.name));
    this.workDir = mkdtempSync(join(tmpdir(), `keel-vm-${safeName(options.name).slice(0, 20)}-`));
    this.boot = options.boot;
    this.events.setMaxListeners(100);
  }

  /** The public key a cloud-config should authorize so `ssh()` can log in. */
  get publicKey(): string {
    return testSshKey().publicKey;
  }

  /** The host port forwarded to `guestPort` (from net.forwardGuestPorts). */
  hostPort(guestPort: number): number {
    const p = this.ports.get(guestPort);
    if (p === undefined) throw new Error(`vm ${this.options.name}: guest port ${guestPort} is not forwarded`);
    return p;
  }

  /** The file qemu writes for disk `i` (an overlay): inspect it after the VM stopped. */
  diskFile(i: number): string {
    const d = this.drives[i];
    if (!d) throw new Error(`vm ${this.options.name}: no disk ${i}`);
    return d.file;
  }

  /** The qemu process id of the current run (its process group id too). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** True while qemu runs, including the moment between a guest reboot and its cold restart. */
  get running(): boolean {
    return this.relaunching !== undefined || (this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null);
  }

  private get rebootMode(): 'reset' | 'restart' | 'stop' {
    return this.options.onReboot ?? (this.boot.kind === 'uefi' ? 'restart' : 'reset');
  }

  /** Prepares disks, seed and firmware vars once, then starts qemu. */
  async start(): Promise<void> {
    installExitHook();
    rmSync(this.logDir, { recursive: true, force: true });
    mkdirSync(this.logDir, { recursive: true });
    this.serialFile = createWriteStream(join(this.logDir, 'serial.log'), { flags: 'a' });
    this.drives = await this.prepareDisks();
    if (this.options.seed) {
      const seed = await makeSeed(join(this.workDir, 'seed.img'), this.options.seed);
      this.drives.push({ file: seed, format: 'raw', readOnly: true, serial: 'cidata' });
    }
    await this.launch();
  }

  private async prepareDisks(): Promise<DriveSpec[]> {
    const drives: DriveSpec[] = [];
    for (const [i, disk] of (this.options.disks ?? []).entries()) {
      const common = { bootIndex: disk.bootIndex, serial: disk.serial };
      if ('image' in disk) {
        const base = abs(disk.image);
        if (!existsSync(base)) throw new Error(`vm ${this.options.name}: ${base} does not exist (run make image first)`);
        const file = join(this.workDir, `disk${i}.qcow2`);
        const size = disk.sizeMiB ? [`${disk.sizeMiB}M`] : [];
        await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base, '-F', disk.format ?? 'raw', file, ...size]);
        drives.push({ file, format: 'qcow2', ...common });
      } else if ('blankMiB' in disk) {
        const file = join(this.workDir, `disk${i}.qcow2`);
        await execa('qemu-img', ['create', '-q', '-f', 'qcow2', file, `${disk.blankMiB}M`]);
        drives.push({ file, format: 'qcow2', ...common });
      } else {
        drives.push({ file: abs(disk.file), format: disk.format, readOnly: disk.readOnly, ...common });
      }
    }
    return drives;
  }

  private bootSpec(): BootSpec {
    const b = this.boot;
    if (b.kind === 'direct') return { kind: 'direct', kernel: abs(b.kernel ?? 'build/vmlinuz'), initrd: abs(b.initrd ?? 'build/initramfs.img'), append: b.append };
    if (b.kind === 'uefi') {
      const vars = join(this.workDir, 'OVMF_VARS.fd');
      if (!existsSync(vars)) copyFileSync(b.varsTemplate ?? ovmfVarsTemplate, vars);
      return { kind: 'uefi', code: ovmfCode, vars };
    }
    return { kind: 'bios' };
  }

  private async spec(): Promise<QemuSpec> {
    const o = this.options;
    const net = o.net === false ? undefined : (o.net ?? {});
    let netSpec: QemuSpec['net'];
    if (net) {
      // Kept across a cold restart, so an ssh waiting through a reboot reaches the new run.
      if (net.ssh !== false && this.sshPort === undefined) this.sshPort = await freePort();
      for (const g of net.forwardGuestPorts ?? []) if (!this.ports.has(g)) this.ports.set(g, await freePort());
      netSpec = {
        sshPort: net.ssh !== false ? this.sshPort : undefined,
        hostForwards: [...this.ports].map(([guestPort, hostPort]) => ({ guestPort, hostPort })),
        guestForwards: net.guestForwards,
        restrict: net.restrict ?? !net.tftpRoot,
        tftpRoot: net.tftpRoot ? abs(net.tftpRoot) : undefined,
        bootFile: net.bootFile,
        bootIndex: net.bootIndex,
      };
    }
    return {
      boot: this.bootSpec(),
      drives: this.drives,
      net: netSpec,
      memoryMiB: o.memoryMiB ?? 1024,
      cpus: o.cpus ?? 1,
      machine: o.machine ?? 'q35',
      cpu: o.cpu ?? 'max',
      noReboot: this.rebootMode !== 'reset',
      qmpSocket: join(this.workDir, 'qmp.sock'),
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
      this.spawn(argv);
      const started = await this.waitStarted(spec.qmpSocket!);
      if (started) return;
      const bindFailure = /host forwarding rule|Address already in use/i.test(this.stderrTail);
      if (!bindFailure || attempt >= 3) {
        this.failed = true;
        throw new Error(`vm ${this.options.name}: qemu did not start: ${this.stderrTail.trim()}\n(logs: ${this.logDir})`);
      }
      this.ports.clear();
      this.sshPort = undefined;
    }
  }

  private spawn(argv: string[]): void {
    const echo = this.options.echo || process.env.KEEL_VM_ECHO === '1';
    const run = this.serial.startRun(Date.now());
    this.t0 = Date.now();
    this.stderrTail = '';
    this.serialFile!.write(`--- qemu run #${run} at ${new Date(this.t0).toISOString()} ---\n`);
    // setpriv: qemu gets SIGKILL if this process dies without running its exit hooks.
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', ...argv], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    live.add(child);
    const stderrFile = createWriteStream(join(this.logDir, 'qemu.stderr'), { flags: 'a' });
    child.stderr!.on('data', (d: Buffer) => {
      stderrFile.write(d);
      this.stderrTail = (this.stderrTail + d.toString('utf8')).slice(-4000);
    });
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      for (const line of this.serial.feed(chunk, Date.now())) {
        const text = formatSerialLine(line);
        this.serialFile!.write(text + '\n');
        if (echo) process.stderr.write(`${safeName(this.options.name)} ${text}\n`);
      }
      this.events.emit('output');
    });
    this.exit = new Promise((resolveExit) => {
      child.on('close', (code, signal) => {
        live.delete(child);
        const last = this.serial.flush(Date.now());
        if (last) this.serialFile!.write(formatSerialLine(last) + '\n');
        this.serialFile!.write(`--- qemu exited: ${signal ?? `code ${code}`} after ${((Date.now() - this.t0) / 1000).toFixed(1)} s ---\n`);
        stderrFile.end();
        const rebooted = code === 0 && (this.resetRequested || this.serial.endedInReboot());
        this.resetRequested = false;
        if (rebooted && this.rebootMode === 'restart' && !this.stopping) {
          this.relaunch();
        } else {
          this.ended = { code, signal };
          this.events.emit('exit');
        }
        resolveExit({ code, signal });
      });
    });
  }

  /** Starts qemu again after a guest reboot; waits and markers carry on across it. */
  private relaunch(): void {
    this.serialFile!.write('--- guest reboot: qemu starts again (a cold boot) ---\n');
    this.relaunching = this.launch()
      .catch((error: Error) => {
        this.failed = true;
        this.stderrTail += `\n${error.message}`;
        this.events.emit('exit');
      })
      .finally(() => {
        this.relaunching = undefined;
      });
  }

  /** True once qemu answers on QMP (devices, forwards and firmware are set up). */
  private async waitStarted(socket: string): Promise<boolean> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (!this.running) {
        await this.exit;
        return false;
      }
      try {
        await qmpCommand(socket, 'query-status', undefined, 2000);
        return true;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return false;
  }

  /** Milliseconds since the current qemu run started. */
  elapsedMs(): number {
    return Date.now() - this.t0;
  }

  /**
   * Waits for `pattern` on the console after the previous marker, and moves past it.
   * Fails with the last console lines when it times out or qemu exits first.
   */
  async waitFor(pattern: RegExp, opts: { timeoutMs: number }): Promise<MarkerMatch> {
    const found = this.serial.take(pattern, { partial: !this.running });
    if (found) return found;
    return new Promise((resolveMatch, reject) => {
      let quiet: NodeJS.Timeout | undefined;
      const cleanup = () => {
        clearTimeout(timer);
        clearTimeout(quiet);
        this.events.off('output', onOutput);
        this.events.off('exit', onExit);
      };
      const fail = (why: string) => {
        cleanup();
        this.failed = true;
        reject(new Error(`vm ${this.options.name}: ${pattern} ${why} (${(this.elapsedMs() / 1000).toFixed(1)} s into qemu run); last console lines:\n${this.serial.tail(40)}\n(logs: ${this.logDir})`));
      };
      const check = (partial: boolean) => {
        const m = this.serial.take(pattern, { partial });
        if (m) {
          cleanup();
          resolveMatch(m);
        }
        return m;
      };
      // A prompt (`login: `) ends without a newline: try the partial line once output pauses.
      const onOutput = () => {
        if (check(false)) return;
        clearTimeout(quiet);
        quiet = setTimeout(() => check(true), quietMs);
      };
      const onExit = () => {
        if (!check(true)) fail(`did not appear before qemu exited (${this.stderrTail.trim() || 'no stderr'})`);
      };
      const timer = setTimeout(() => {
        if (!check(true)) fail(`did not appear within ${opts.timeoutMs} ms`);
      }, opts.timeoutMs);
      this.events.on('output', onOutput);
      this.events.on('exit', onExit);
      if (!this.running) onExit();
      else quiet = setTimeout(() => check(true), quietMs);
    });
  }

  /** Runs a command in the guest as root (or opts.user) over the forwarded SSH port. */
  async ssh(command: string, opts: SshOptions = {}): Promise<SshResult> {
    if (this.sshPort === undefined) throw new Error(`vm ${this.options.name}: no ssh forward (net.ssh is false)`);
    try {
      return await sshRun(this.sshPort, command, opts, () => this.running);
    } catch (error) {
      this.failed = true;
      throw new Error(`vm ${this.options.name}: ${(error as Error).message}\nlast console lines:\n${this.serial.tail(20)}\n(logs: ${this.logDir})`, { cause: error });
    }
  }

  /** Presses the ACPI power button (a clean guest shutdown). */
  async powerdown(): Promise<void> {
    await qmpCommand(join(this.workDir, 'qmp.sock'), 'system_powerdown');
  }

  /** A hard reset, like the reset button (a cold restart of qemu with `onReboot: 'restart'`). */
  async reset(): Promise<void> {
    this.resetRequested = this.rebootMode === 'restart';
    await qmpCommand(join(this.workDir, 'qmp.sock'), 'system_reset');
  }

  /** Waits for qemu to end by itself (guest poweroff, or reboot with `onReboot: 'stop'`). */
  async waitExit(opts: { timeoutMs: number }): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.exit) throw new Error(`vm ${this.options.name}: not started`);
    if (!this.running && this.ended) return this.ended;
    return new Promise((resolveEnd, reject) => {
      const onExit = () => {
        clearTimeout(timer);
        resolveEnd(this.ended ?? { code: null, signal: null });
      };
      const timer = setTimeout(() => {
        this.events.off('exit', onExit);
        this.failed = true;
        reject(new Error(`vm ${this.options.name}: qemu still running after ${opts.timeoutMs} ms; last console lines:\n${this.serial.tail(30)}\n(logs: ${this.logDir})`));
      }, opts.timeoutMs);
      this.events.once('exit', onExit);
    });
  }

  /** Kills qemu (process group, SIGKILL) and waits for it to be gone. */
  async kill(): Promise<void> {
    this.stopping = true;
    try {
      await this.relaunching;
      if (this.child) killGroup(this.child);
      if (this.exit) await this.exit;
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
    this.sshPort = undefined;
    await this.launch();
  }

  /**
   * Kills the VM and deletes its working files. The logs stay in build/test-logs/<name>/
   * when the test failed (or KEEL_KEEP_LOGS=1); otherwise they are removed.
   */
  async close(opts: { failed?: boolean } = {}): Promise<void> {
    await this.kill();
    const keep = opts.failed || this.failed || process.env.KEEL_KEEP_LOGS === '1';
    await new Promise<void>((r) => (this.serialFile ? this.serialFile.end(r) : r()));
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
