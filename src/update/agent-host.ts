import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { execa } from 'execa';
import { KeelError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RebootLock } from '../lock/reboot-lock.js';
import type { AgentEnv } from './agent-tick.js';
import type { Booted, Slot } from './agent-state.js';
import { otherSlot } from './boot-entry.js';
import { blessEntry, installEntry, listEntries, removeSlotEntries } from './esp.js';
import { readVerdict } from './health-gate.js';
import { bootedSlotOf, machineIdOf, runningVersionOf } from './host-facts.js';
import { joinUrl, openPayload, repoUrl } from './payload-source.js';
import { readRecords, removeRecords, writeRecord } from './progress-record.js';
import type { Release, ReleaseFile } from './release.js';
import { checkForRelease, writeRelease } from './release-installer.js';
import { readNodeState, updateNodeState, type NodeState } from './node-state.js';
import type { UpdateConfig } from './update-config.js';

/**
 * The agent's edges on a real host, everything under `root` so an integration test can
 * point it at a directory tree: slots by partition label (or test files), the ESP at
 * /boot, progress under /var/lib/keel/update, the health verdict in /run/keel, the reboot
 * lock, and `systemctl reboot`.
 */
export interface HostOptions {
  root: string;
  config: UpdateConfig;
  log: Logger;
  /** Where each slot's image is written; default /dev/disk/by-partlabel/keel-root-<slot>. */
  slotTarget?: (slot: Slot) => string;
  /** The reboot lock (etcd or FleetLock), opened when first needed. */
  openLock?: () => Promise<RebootLock>;
  rebootCommand?: string[];
  now?: () => number;
}

/** systemd-boot's EFI variable naming the counted entry it booted. */
const loaderBootCountPath = 'LoaderBootCountPath-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f';

export type StoredNodeState = NodeState & { staged?: Release; rebootingTo?: string };

/** Builds the AgentEnv of a host. */
export function hostEnv(o: HostOptions): AgentEnv & { closeLock(): Promise<void> } {
  const root = o.root;
  const stateDir = join(root, 'var/lib/keel/update');
  const esp = join(root, 'boot');
  const slotTarget = o.slotTarget ?? ((slot: Slot) => `/dev/disk/by-partlabel/keel-root-${slot}`);
  const state = () => readNodeState(stateDir) as Promise<StoredNodeState>;
  const change = (f: (s: StoredNodeState) => StoredNodeState) => updateNodeState(stateDir, (s) => f(s as StoredNodeState));
  let lock: RebootLock | undefined;
  const machineId = async () => (await machineIdOf(root)) ?? 'unknown-machine';
  const getLock = async () => {
    if (!o.openLock) throw new KeelError('unavailable', 'no reboot lock configured (/etc/keel/lock.conf)');
    lock ??= await o.openLock();
    return lock;
  };

  return {
    now: o.now ?? Date.now,
    random: Math.random,
    config: o.config,
    log: o.log,

    async bootFacts() {
      const slot = await bootedSlotOf(root);
      const version = await runningVersionOf(root);
      if (!slot || !version) throw new KeelError('not-found', `cannot tell the booted slot (keel.slot= on /proc/cmdline) or version (/usr/lib/keel/version) under ${root}; the agent cannot run`);
      const booted = { slot, version };
      const pending = (await readRecords(stateDir)).find((r) => r.phase === 'pending' && r.version === version && r.slot === slot);
      const entry = (await listEntries(esp)).find((e) => e.slot === slot && e.version === version);
      return { booted, trial: pending !== undefined || entry?.health === 'trying' };
    },

    async health() {
      return (await readVerdict(root))?.ok;
    },

    async findRollback(booted) {
      const s = await state();
      if (!s.rebootingTo || s.rebootingTo === booted.version) return undefined;
      return s.rebootingTo;
    },

    async markGood(booted, trial) {
      if (trial) {
        // systemd-bless-boot drops the counter after boot-complete.target when systemd-boot
        // counted this boot (LoaderBootCountPath is set); give it time, and bless only if it did not.
        const counted = await stat(join(root, 'sys/firmware/efi/efivars', loaderBootCountPath)).then(() => true, () => false);
        const find = async () => (await listEntries(esp)).find((e) => e.slot === booted.slot && e.version === booted.version);
        for (let i = 0; counted && i < 60 && (await find())?.health === 'trying'; i++) await new Promise((r) => setTimeout(r, 1000));
        const entry = await find();
        if (entry) await blessEntry(esp, entry);
        const record = (await readRecords(stateDir)).find((r) => r.version === booted.version);
        if (record) await writeRecord(stateDir, { ...record, phase: 'installed', updatedAt: new Date().toISOString() });
      }
      const s = await state();
      if (s.lockHeld || o.config.strategy === 'etcd-lock' || o.config.strategy === 'best-effort') {
        try {
          await (await getLock()).release(await machineId());
        } catch (error) {
          // Releasing is only required when this node holds the lock; best-effort without etcd has none.
          if (s.lockHeld || o.config.strategy === 'etcd-lock') throw error;
        }
      }
      await change((x) => {
        const { rebootingTo: _r, staged, ...rest } = x;
        return { ...rest, lockHeld: false, ...(staged && staged.version !== booted.version ? { staged } : {}) };
      });
    },

    async recordFailed(version) {
      // Its entry stays: out of tries it sorts last and never boots, and status shows the slot as bad
      // until the next update overwrites that slot.
      await removeRecords(stateDir, version);
      await change((x) => {
        const { rebootingTo: _r, staged: _s, ...rest } = x;
        return { ...rest, failedVersions: [...new Set([...x.failedVersions, version])] };
      });
    },

    async unhealthyReboots(version, add) {
      const s = await change((x) => ({ ...x, unhealthyReboots: { ...(x.unhealthyReboots ?? {}), [version]: (x.unhealthyReboots?.[version] ?? 0) + (add ? 1 : 0) } }));
      return s.unhealthyReboots?.[version] ?? 0;
    },

    async stagedRelease(booted) {
      const s = await state();
      if (!s.staged || s.staged.version === booted.version) return undefined;
      const pending = (await readRecords(stateDir)).find((r) => r.phase === 'pending' && r.version === s.staged!.version);
      const entry = (await listEntries(esp)).find((e) => e.version === s.staged!.version && e.slot === otherSlot(booted.slot));
      return pending && entry ? s.staged : undefined;
    },

    async check(booted) {
      const trustPem = await readTrust(root, o.config.trustKey);
      const wariness = o.config.rolloutWariness;
      return checkForRelease({
        repo: o.config.server!,
        trustPem,
        stateDir,
        channel: o.config.channel,
        group: o.config.group,
        runningVersion: booted.version,
        machineId: await machineId(),
        nowMs: (o.now ?? Date.now)(),
        ...(wariness !== undefined && { wariness }),
      });
    },

    async download(booted, release) {
      const other = otherSlot(booted.slot);
      const repo = repoUrl(o.config.server!);
      // The other slot is about to change: nothing may boot it until it is verified again.
      await removeSlotEntries(esp, other);
      await change((x) => {
        const { staged: _s, ...rest } = x;
        return rest;
      });
      await writeRelease({ repo, target: slotTarget(other), slot: other, stateDir, nowMs: Date.now() }, release);
      if (!release.kernel || !release.initramfs) throw new KeelError('verification', `release ${release.version} has no kernel or initramfs target; cannot make it bootable`);
      const kernel = await fetchVerified(joinUrl(joinUrl(repo, 'targets'), release.kernel.path), release.kernel);
      const initramfs = await fetchVerified(joinUrl(joinUrl(repo, 'targets'), release.initramfs.path), release.initramfs);
      const current = (await listEntries(esp)).find((e) => e.slot === booted.slot);
      const options = current?.fields.options ?? (await readFile(join(root, 'proc/cmdline'), 'utf8').catch(() => '')).trim();
      await installEntry(esp, { version: release.version, slot: other, options, kernel, initramfs, tries: 3 });
      await change((x) => ({ ...x, staged: release }));
    },

    async usersLoggedIn() {
      const dir = join(root, 'run/systemd/sessions');
      let count = 0;
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        if (name.includes('.')) continue;
        const text = await readFile(join(dir, name), 'utf8').catch(() => '');
        if (/^CLASS=user$/m.test(text) && /^ACTIVE=1$/m.test(text)) count++;
      }
      return count;
    },

    async takeLock(mode) {
      if (mode === 'none') return true;
      try {
        await (await getLock()).acquire(await machineId(), { wait: false });
        await change((x) => ({ ...x, lockHeld: true }));
        o.log.notice('took the reboot lock');
        return true;
      } catch (error) {
        const kind = error instanceof KeelError ? error.kind : 'unavailable';
        if (mode === 'try' && kind === 'unavailable') {
          o.log.warning(`reboot lock unavailable (${(error as Error).message}); best-effort: rebooting without it`);
          return true;
        }
        o.log.info(`reboot lock not taken: ${(error as Error).message}`);
        return false;
      }
    },

    async reboot(reason) {
      const s = await state();
      if (s.staged) await change((x) => ({ ...x, rebootingTo: s.staged!.version }));
      o.log.notice(`rebooting: ${reason}`);
      const [cmd, ...args] = o.rebootCommand ?? ['systemctl', 'reboot'];
      await execa(cmd!, args);
    },

    async report(fields) {
      await change((x) => {
        const next: StoredNodeState = { ...x, agentState: fields.state };
        if (fields.lastCheck !== undefined) next.lastCheck = fields.lastCheck;
        if (fields.lastCheckResult !== undefined) next.lastCheckResult = fields.lastCheckResult;
        if (fields.lastError === null) delete next.lastError;
        else if (fields.lastError !== undefined) next.lastError = fields.lastError;
        return next;
      });
    },

    async closeLock() {
      await lock?.close();
      lock = undefined;
    },
  };
}

/** The pinned trust key named by the config, read under the root. */
export async function readTrust(root: string, path: string): Promise<string> {
  try {
    return await readFile(join(root, path), 'utf8');
  } catch (error) {
    throw new KeelError('not-found', `${join(root, path)}: no pinned update trust key; the agent cannot verify releases`, { cause: error });
  }
}

/** Fetches a small target into memory, checking its signed length and SHA-256. */
async function fetchVerified(url: string, file: ReleaseFile): Promise<Buffer> {
  const { stream } = await openPayload(url);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > file.length) throw new KeelError('verification', `${url}: longer than the signed ${file.length} bytes (tampered); not installed`);
    chunks.push(chunk);
  }
  const data = Buffer.concat(chunks);
  const digest = createHash('sha256').update(data).digest('hex');
  if (size !== file.length || digest !== file.sha256) throw new KeelError('verification', `${url}: ${size} bytes with SHA-256 ${digest}, signed ${file.length} bytes ${file.sha256} (tampered or truncated); not installed`);
  return data;
}
