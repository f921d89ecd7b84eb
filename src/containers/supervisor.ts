/**
 * The supervisor daemon (`keel containers supervise`): keeps the running containers equal
 * to the specs. It reconciles at start, when a spec file changes, on SIGHUP, every
 * `rescanMs`, and after systemd re-execs or the bus comes back; between passes it follows
 * each unit's state from PropertiesChanged to restart with a doubling backoff (systemd <
 * 254), run health checks, and announce or withdraw the container in etcd.
 */
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { writeFileCrashSafe } from '../host/crash-safe-write.js';
import type { Logger } from '../log.js';
import { formatProblem } from '../problem.js';
import { backoffActive, backoffFailed, initialBackoff, type BackoffState } from '../backoff.js';
import { Announcer, endpointOf, etcdClient } from './discovery.js';
import { initialHealth, recordProbe, type HealthState } from './health-tracker.js';
import { ArchiveImageSource, imageDirectory } from './image-source.js';
import { Podman } from './podman.js';
import { describeAction, reconcilePass } from './reconcile-pass.js';
import type { ContainerSpec } from './spec.js';
import { specDirectory } from './spec-files.js';
import type { SupervisorSettings } from './supervisor-settings.js';
import { SystemdBus } from '../host/systemd-bus.js';
import { restartAlone, systemdVersionOf, unitStateOf } from './systemd-units.js';
import { containerNameOf, defaultRenderOptions, unitNameOf, type RenderOptions } from './unit-from-spec.js';

export interface SupervisorOptions {
  root: string;
  busAddress: string;
  settings: SupervisorSettings;
  log: Logger;
  rescanMs?: number;
  now?: () => number;
}

/** What the supervisor tracks per container between passes. */
interface Tracked {
  spec: ContainerSpec;
  activeState?: string;
  subState?: string;
  backoff: BackoffState;
  health: HealthState;
  healthTimer?: NodeJS.Timeout;
  probing?: boolean;
  restartTimer?: NodeJS.Timeout;
  nextRestartMs?: number;
}

/** Where `keel containers status` reads the supervisor's view of each container. */
export const stateDirectory = 'run/keel/containers';

/** The first non-loopback IPv4 address, the default address to announce. */
function defaultAddress(): string {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return '127.0.0.1';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Supervisor {
  private bus: SystemdBus | undefined;
  private render: RenderOptions;
  private readonly podman: Podman;
  private readonly tracked = new Map<string, Tracked>();
  private announcer: Announcer | undefined;
  private machineId = 'unknown';
  private running: Promise<void> | undefined;
  private again = false;
  private firstPass = true;
  private stopped = false;
  private watcher: FSWatcher | undefined;
  private readonly now: () => number;

  constructor(private readonly o: SupervisorOptions) {
    this.podman = new Podman(o.settings.podmanPath, o.settings.podmanArgs);
    this.render = { ...defaultRenderOptions, podmanPath: o.settings.podmanPath, podmanArgs: o.settings.podmanArgs };
    this.now = o.now ?? Date.now;
  }

  /** Runs until `signal` aborts. Connection failures are retried, never fatal. */
  async run(signal: AbortSignal): Promise<void> {
    this.machineId = (await readFile(join(this.o.root, 'etc/machine-id'), 'utf8').catch(() => 'unknown')).trim() || 'unknown';
    if (this.o.settings.discoveryEndpoints.length > 0) {
      this.announcer = new Announcer(await etcdClient(this.o.settings.discoveryEndpoints, this.o.settings.discoveryTls), this.o.settings.discoveryTtlSeconds, (m) => this.o.log.warning(m));
      this.o.log.info(`discovery: announcing to ${this.o.settings.discoveryEndpoints.join(', ')} as ${this.machineId}`);
    }
    await this.connect(signal);
    const dir = join(this.o.root, specDirectory);
    await mkdir(dir, { recursive: true });
    let debounce: NodeJS.Timeout | undefined;
    this.watcher = watch(dir, () => {
      clearTimeout(debounce);
      debounce = setTimeout(() => this.request('spec files changed'), 150);
    });
    const onHup = () => this.request('SIGHUP');
    process.on('SIGHUP', onHup);
    const rescan = setInterval(() => this.request('periodic rescan'), this.o.rescanMs ?? 30_000);
    this.request('start');
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    this.stopped = true;
    clearInterval(rescan);
    clearTimeout(debounce);
    process.off('SIGHUP', onHup);
    this.watcher.close();
    for (const t of this.tracked.values()) this.stopTimers(t);
    await this.running?.catch(() => undefined);
    await this.announcer?.close();
    await this.bus?.close();
  }

  /**
   * Connects (retrying with a doubling delay up to 10 s) and follows every unit's property
   * changes. The client itself reconnects after a lost bus and subscribes again after a
   * daemon-reexec; either way signals may have been missed, so a pass follows.
   */
  private async connect(signal: AbortSignal): Promise<void> {
    for (let delay = 250; !signal.aborted; delay = Math.min(delay * 2, 10_000)) {
      let bus: SystemdBus | undefined;
      try {
        bus = await SystemdBus.connect({ address: this.o.busAddress });
        this.render = { ...this.render, systemdVersion: await systemdVersionOf(bus) };
        bus.onPropertiesChanged((c) => {
          if (c.interface.startsWith('org.freedesktop.systemd1.')) this.onUnit(c.unit, c.changed);
        });
        bus.on('disconnect', (e: Error) => {
          if (!this.stopped) this.o.log.warning(`d-bus connection lost (${e.message}); reconnecting`);
        });
        bus.on('reconnect', (why: string) => {
          this.o.log.notice(`${why}; connected to systemd again`);
          this.request(why);
        });
        this.bus = bus;
        this.o.log.info(`connected to systemd ${this.render.systemdVersion} at ${this.o.busAddress}`);
        return;
      } catch (error) {
        await bus?.close();
        this.o.log.warning(`${(error as Error).message}; retrying in ${delay} ms`);
        await sleep(delay);
      }
    }
  }

  /** Asks for a pass; passes never overlap and requests during one coalesce into one more. */
  request(reason: string): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass(reason).finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.request('changes during the last pass');
      }
    });
  }

  private async pass(reason: string): Promise<void> {
    const bus = this.bus;
    if (!bus) return;
    const started = this.now();
    try {
      const images = new ArchiveImageSource(this.podman, join(this.o.root, imageDirectory));
      const r = await reconcilePass({ root: this.o.root, systemd: bus, images, render: this.render, firstPass: this.firstPass });
      this.firstPass = false;
      for (const p of r.problems) {
        if (p.severity === 'error') this.o.log.error(`${formatProblem(p.file, p)}; this container is left as it was`);
        else this.o.log.warning(formatProblem(p.file, p));
      }
      for (const out of r.outcomes) if (out.action.kind !== 'daemon-reload') this.o.log[out.ok ? 'info' : 'error'](`${describeAction(out.action)}: ${out.detail}`);
      const specs = new Map(r.specs.filter((s) => s.spec).map((s) => [s.name, s.spec!]));
      for (const [name, t] of this.tracked) {
        if (r.plan.kept.includes(name)) continue;
        const spec = specs.get(name);
        if (!spec) {
          this.stopTimers(t);
          this.tracked.delete(name);
          await this.announcer?.withdraw(name);
          await rm(join(this.o.root, stateDirectory, `${name}.json`), { force: true });
        } else if (JSON.stringify(spec) !== JSON.stringify(t.spec)) {
          t.spec = spec;
          t.health = initialHealth;
        }
      }
      for (const [name, spec] of specs) if (!this.tracked.has(name)) this.tracked.set(name, { spec, backoff: initialBackoff, health: initialHealth });
      // Catch up with state changes that happened while no signal could be seen.
      for (const [name, t] of this.tracked) {
        const s = await unitStateOf(bus, unitNameOf(name)).catch(() => undefined);
        if (s) this.onUnit(unitNameOf(name), { ActiveState: s.activeState, SubState: s.subState }, t);
      }
      if (r.plan.actions.length > 0) this.o.log.info(`pass (${reason}): ${r.plan.actions.length} actions in ${this.now() - started} ms`);
    } catch (error) {
      this.o.log.error(`pass (${reason}) failed: ${(error as Error).message}; retrying at the next trigger`);
    }
  }

  /** Follows one unit's state: backoff on failures, health checks and discovery while active. */
  private onUnit(unit: string, props: Record<string, unknown>, known?: Tracked): void {
    const name = containerNameOf(unit);
    const t = known ?? (name ? this.tracked.get(name) : undefined);
    if (!name || !t) return;
    const before = { active: t.activeState, sub: t.subState };
    if (typeof props.ActiveState === 'string') t.activeState = props.ActiveState;
    if (typeof props.SubState === 'string') t.subState = props.SubState;
    const now = this.now();
    if (t.activeState === 'active' && before.active !== 'active') {
      clearTimeout(t.restartTimer);
      t.nextRestartMs = undefined;
      t.backoff = backoffActive(t.backoff, now);
      t.health = initialHealth;
      this.startHealth(name, t);
      const e = endpointOf(t.spec, this.machineId, this.o.settings.discoveryAddress ?? defaultAddress());
      if (e && this.announcer) void this.announcer.announce(e).then(() => this.o.log.info(`discovery: announced ${name}`));
    } else if (t.activeState !== 'active' && before.active === 'active') {
      this.stopTimers(t);
      if (this.announcer?.announced().includes(name)) void this.announcer.withdraw(name).then(() => this.o.log.info(`discovery: withdrew ${name}`));
    }
    if (t.subState === 'auto-restart' && before.sub !== 'auto-restart') this.onFailure(name, t, now);
    void this.saveState(name, t);
  }

  /** systemd scheduled a restart after a failure: on systemd < 254 restart sooner, after the doubling delay. */
  private onFailure(name: string, t: Tracked, now: number): void {
    const { state, delayMs } = backoffFailed(t.backoff, now, { initialDelayMs: t.spec.restartDelaySeconds * 1000, maxDelayMs: t.spec.restartMaxDelaySeconds * 1000 });
    t.backoff = state;
    const fallbackMs = t.spec.restartMaxDelaySeconds * 1000;
    this.o.log.warning(`container ${name} failed (${state.failures} in a row); restarting in ${delayMs} ms`);
    if (this.render.systemdVersion >= 254 || delayMs >= fallbackMs - 100) return;
    clearTimeout(t.restartTimer);
    t.nextRestartMs = now + delayMs;
    t.restartTimer = setTimeout(() => {
      if (t.subState !== 'auto-restart' || !this.bus) return;
      restartAlone(this.bus, unitNameOf(name)).catch((e: Error) => this.o.log.error(`restart ${name}: ${e.message}`));
    }, delayMs);
  }

  private startHealth(name: string, t: Tracked): void {
    clearInterval(t.healthTimer);
    const check = t.spec.health;
    if (!check) return;
    t.healthTimer = setInterval(async () => {
      if (t.probing || t.activeState !== 'active') return;
      t.probing = true;
      try {
        const r = await this.podman.run(['exec', name, ...check.command], check.timeoutSeconds * 1000);
        const { state, restart } = recordProbe(t.health, r.exitCode === 0 && !r.timedOut, check);
        t.health = state;
        if (r.exitCode !== 0) this.o.log.warning(`health ${name}: probe failed (${r.timedOut ? 'timed out' : `exit ${r.exitCode}`}), ${state.failuresInARow || check.retries}/${check.retries}`);
        if (restart && this.bus) {
          this.o.log.warning(`health ${name}: ${check.retries} probes in a row failed; restarting`);
          clearInterval(t.healthTimer);
          await restartAlone(this.bus, unitNameOf(name)).catch((e: Error) => this.o.log.error(`restart ${name}: ${e.message}`));
        }
        void this.saveState(name, t);
      } finally {
        t.probing = false;
      }
    }, check.intervalSeconds * 1000);
  }

  private stopTimers(t: Tracked): void {
    clearInterval(t.healthTimer);
    clearTimeout(t.restartTimer);
  }

  private async saveState(name: string, t: Tracked): Promise<void> {
    const dir = join(this.o.root, stateDirectory);
    const data = { name, activeState: t.activeState, subState: t.subState, health: t.spec.health ? t.health.status : undefined, failuresInARow: t.backoff.failures, nextRestartMs: t.nextRestartMs, announced: this.announcer?.announced().includes(name) ?? false };
    await mkdir(dir, { recursive: true }).catch(() => undefined);
    // Crash-safe so `keel containers status` never reads half a record.
    await writeFileCrashSafe(join(dir, `${name}.json`), Buffer.from(JSON.stringify(data) + '\n')).catch(() => undefined);
  }
}
