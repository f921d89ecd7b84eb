/**
 * The text form of `keel fleet status`: one line a node (machine id, hostname, version,
 * state, for how long, last error), then the summary. Pure; control characters from etcd
 * are escaped so a hostile record cannot move the cursor or fake a line.
 */
import { formatElapsedMs as formatDurationMs } from '../duration.js';
import { haltMessage } from './rollout-record.js';
import type { FleetStatus, NodeLine } from './fleet-status.js';

/** A value from etcd made safe for one terminal line. */
export function printable(text: string, max = 200): string {
  const safe = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return safe.length > max ? `${safe.slice(0, max - 3)}...` : safe;
}

function nodeCells(n: NodeLine): string[] {
  const r = n.record;
  const state = n.lost ? `lost (was ${r.state})` : r.state;
  const extra = [r.staged ? `staged ${r.staged}` : '', r.rebootSlot ? 'holds a reboot slot' : '', r.health ? `health ${r.health.verdict}` : ''].filter(Boolean).join(', ');
  return [r.machineId, r.hostname, `${r.version} (${r.slot})`, state, formatDurationMs(n.forMs), r.lastError ? r.lastError.message : extra ? `(${extra})` : '-'].map((c) => printable(c));
}

/** Columns padded to their widest cell; the last one is left ragged. */
function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

export function formatFleetStatus(s: FleetStatus): string {
  const lines: string[] = [];
  if (s.nodes.length === 0) lines.push(`no node records in group '${s.group}'`);
  else lines.push(...table([['MACHINE ID', 'HOSTNAME', 'VERSION', 'STATE', 'FOR', 'LAST ERROR'], ...s.nodes.map(nodeCells)]));
  lines.push('');
  const sum = s.summary;
  const versions = Object.entries(sum.versions).sort(([a], [b]) => (a < b ? -1 : 1)).map(([v, n]) => `${printable(v)}: ${n}`);
  lines.push(`group: ${s.group}`);
  lines.push(`nodes: ${sum.nodes}${sum.lost ? ` (and ${sum.lost} lost in the last day)` : ''}`);
  lines.push(`versions: ${versions.join(', ') || 'none'}`);
  lines.push(`failed: ${sum.failed.length}${sum.failed.length ? ` (${sum.failed.map((f) => printable(f)).join(', ')})` : ''}`);
  if (!sum.lock) lines.push('lock: no semaphore yet (no node has taken a slot)');
  else {
    const holders = sum.lock.holders.map((h) => `${printable(h.id)}${h.hostname ? ` (${printable(h.hostname)})` : ''} ${h.heldForMs !== undefined ? `for ${formatDurationMs(h.heldForMs)}` : 'since unknown'}`);
    lines.push(`lock: ${sum.lock.holders.length} of ${sum.lock.totalSlots} slot${sum.lock.totalSlots === 1 ? '' : 's'} held${holders.length ? `: ${holders.join(', ')}` : ''}`);
  }
  if (sum.rollouts.length === 0) lines.push('rollouts: none');
  for (const r of sum.rollouts) {
    lines.push(`rollout ${printable(r.version)}: ${r.state}, ${r.started} started, ${r.succeeded} succeeded, ${r.failed} failed`);
    if (r.halted) lines.push(`  ${printable(haltMessage(r.version, r.halted), 400)}`);
  }
  return lines.join('\n') + '\n';
}
