/**
 * Unit names: which are valid, which are templates or instances, and which belong to
 * systemd-networkd (those are applied by restarting networkd, not by their own command).
 */

/** The unit types systemd knows, plus networkd's three configuration kinds. */
export const unitSuffixes = ['service', 'socket', 'device', 'mount', 'automount', 'swap', 'target', 'path', 'timer', 'slice', 'scope'] as const;
export const networkdSuffixes = ['network', 'netdev', 'link'] as const;

/** systemd's unit name alphabet (`[A-Za-z0-9:_.\\@-]`), at most 255 bytes, with a known suffix. */
export function isValidUnitName(name: string): boolean {
  if (name.length === 0 || name.length > 255) return false;
  if (!/^[A-Za-z0-9:_.\\@-]+$/.test(name) || name.startsWith('.')) return false;
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return false;
  const suffix = name.slice(dot + 1);
  return (unitSuffixes as readonly string[]).includes(suffix) || (networkdSuffixes as readonly string[]).includes(suffix);
}

/** `.network`, `.netdev` and `.link` files: systemd-networkd's, under /etc/systemd/network. */
export function isNetworkdUnit(name: string): boolean {
  return (networkdSuffixes as readonly string[]).some((s) => name.endsWith(`.${s}`));
}

/** A name split at `@`: `getty@tty1.service` → prefix `getty`, instance `tty1`, suffix `service`. */
export interface UnitNameParts {
  prefix: string;
  /** undefined: not a template; '': a template (`getty@.service`); otherwise the instance. */
  instance: string | undefined;
  suffix: string;
}

export function unitNameParts(name: string): UnitNameParts {
  const dot = name.lastIndexOf('.');
  const base = name.slice(0, dot);
  const suffix = name.slice(dot + 1);
  const at = base.indexOf('@');
  if (at < 0) return { prefix: base, instance: undefined, suffix };
  return { prefix: base.slice(0, at), instance: base.slice(at + 1), suffix };
}

/** The template a unit instance is made from (`getty@tty1.service` → `getty@.service`), or undefined. */
export function templateOf(name: string): string | undefined {
  const p = unitNameParts(name);
  return p.instance ? `${p.prefix}@.${p.suffix}` : undefined;
}
