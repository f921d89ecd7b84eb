/**
 * `coreos.units` and `keel.units`, in coreos-cloudinit's order: every unit file and drop-in
 * is written first, then masks and enables, then ONE daemon-reload, then the commands in
 * list order. `.network`, `.netdev` and `.link` files are systemd-networkd's: they go to
 * /etc/systemd/network and are applied by one restart of systemd-networkd (before the
 * other commands) instead of a command of their own.
 */
import type { Unit } from './model.js';
import type { UnitCommand } from '../systemd/unit-command.js';
import { type PlanBuilder, bytes } from './plan-context.js';
import { isNetworkdUnit, isValidUnitName } from '../systemd/unit-name.js';

export const networkdService = 'systemd-networkd.service';

/** The directory a unit file lives in: system or networkd, persistent or runtime. */
export function unitDirectory(name: string, runtime: boolean): string {
  const base = runtime ? '/run/systemd' : '/etc/systemd';
  return `${base}/${isNetworkdUnit(name) ? 'network' : 'system'}`;
}

/** One command to run after the daemon-reload. */
export interface PlannedUnitCommand {
  unit: string;
  command: UnitCommand;
}

/** Checks names and the combinations that cannot both hold; returns the units that are fine. */
function checkedUnits(b: PlanBuilder, units: Unit[]): Unit[] {
  const seen = new Set<string>();
  const ok: Unit[] = [];
  units.forEach((u, i) => {
    const at = `units[${i}]`;
    if (!isValidUnitName(u.name)) return b.refuse(`${at}.name: ${JSON.stringify(u.name)} is not a unit name (e.g. app.service, data.mount, eth0.network); refusing to apply`);
    if (seen.has(u.name)) return b.refuse(`${at}: unit ${JSON.stringify(u.name)} is defined twice; expected each unit once; refusing to apply`);
    seen.add(u.name);
    if (u.mask && u.content !== undefined) return b.refuse(`${at}: unit ${u.name} has content and mask: true; a masked unit's file is replaced by a link to /dev/null; refusing to apply`);
    if (u.mask && u.enable) return b.refuse(`${at}: unit ${u.name} has both enable: true and mask: true; expected one of them; refusing to apply`);
    for (const d of u.dropIns) {
      if (d.name === '' || d.name.includes('/') || d.name === '.' || d.name === '..')
        return b.refuse(`${at}.drop_ins: ${JSON.stringify(d.name)} is not a file name; refusing to apply`);
      if (!d.name.endsWith('.conf')) b.note(`${at}.drop_ins: ${d.name} does not end in .conf; systemd ignores such drop-ins`);
    }
    if (isNetworkdUnit(u.name) && (u.enable || u.mask)) b.note(`${at}: ${u.name} is a systemd-networkd file; enable and mask do not apply to it and are ignored`);
    ok.push(u);
  });
  return ok;
}

/**
 * Adds the writes, masks, enables and the daemon-reload for `units`, and returns the
 * commands to run afterwards (networkd's restart first). `extraUnitWrite` says an earlier
 * step already wrote a unit file (etcd's drop-in), so the daemon-reload is needed anyway;
 * `networkFilesWritten`, that write_files put a file in networkd's directories, which the
 * running networkd reads only when restarted (a static address for etcd's URLs, say).
 */
export function planUnits(b: PlanBuilder, units: Unit[], extraUnitWrite: boolean, networkFilesWritten = false): PlannedUnitCommand[] {
  const good = checkedUnits(b, units);
  let changed = extraUnitWrite;
  for (const u of good) {
    const dir = unitDirectory(u.name, u.runtime === true);
    const runtime = u.runtime === true;
    if (u.content !== undefined) {
      b.add({ kind: 'write-unit', unit: u.name, runtime, file: { path: `${dir}/${u.name}`, content: bytes(u.content), mode: 0o644 } });
      changed = true;
    }
    for (const d of u.dropIns) {
      b.add({ kind: 'write-drop-in', unit: u.name, name: d.name, runtime, file: { path: `${dir}/${u.name}.d/${d.name}`, content: bytes(d.content), mode: 0o644 } });
      changed = true;
    }
  }
  for (const u of good) {
    if (isNetworkdUnit(u.name)) continue;
    const runtime = u.runtime === true;
    if (u.mask) {
      b.add({ kind: 'mask-unit', unit: u.name, runtime, path: `${unitDirectory(u.name, runtime)}/${u.name}` });
      changed = true;
    } else if (u.enable) {
      b.add({ kind: 'enable-unit', unit: u.name, runtime });
      changed = true;
    }
  }
  if (changed) b.add({ kind: 'daemon-reload' });
  const commands: PlannedUnitCommand[] = [];
  const networkd = networkFilesWritten || good.some((u) => isNetworkdUnit(u.name) && (u.content !== undefined || u.dropIns.length > 0 || u.command !== undefined));
  if (networkd) commands.push({ unit: networkdService, command: 'restart' });
  for (const u of good) {
    if (u.command === undefined) continue;
    if (isNetworkdUnit(u.name)) continue;
    commands.push({ unit: u.name, command: u.command });
  }
  return commands;
}
