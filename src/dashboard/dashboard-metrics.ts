/**
 * `/metrics` of the dashboard in Prometheus' text format, through prom-client: every gauge
 * is computed at scrape time from the feed's present view, so a scrape never touches etcd.
 * Names follow Prometheus' conventions (`keel_fleet_` prefix, base units, `_seconds`).
 * What the node records carry is all there is fleet-wide (last check, last error, health);
 * the agents' own check/download/reboot durations are on each agent's /metrics.
 */
import { Gauge, Registry } from 'prom-client';
import type { DashboardView } from './dashboard-view.js';

type Labels = Record<string, string>;

/** A gauge whose values are set from the view on every scrape. */
function viewGauge(registry: Registry, name: string, help: string, labelNames: string[], values: () => [Labels, number][]): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of values()) this.set(labels, value);
    },
  });
}

/** A registry with the fleet's gauges over `view()`; `now` gives the scrape time for hold durations. */
export function dashboardMetrics(view: () => DashboardView, now: () => number = Date.now): Registry {
  const r = new Registry();
  const groups = () => view().groups;
  const seconds = (iso: string | undefined) => (iso === undefined ? undefined : Date.parse(iso) / 1000);
  viewGauge(r, 'keel_fleet_etcd_up', 'Whether the dashboard reaches etcd now (1) or shows the last known state (0).', [], () => [[{}, view().etcd.connected ? 1 : 0]]);
  viewGauge(r, 'keel_fleet_nodes', 'Live nodes by running version and update agent state.', ['group', 'version', 'state'], () =>
    groups().flatMap((g) => {
      const counts = new Map<string, [Labels, number]>();
      for (const n of g.nodes.filter((n) => !n.lost)) {
        const key = JSON.stringify([n.version, n.state]);
        const entry = counts.get(key) ?? [{ group: g.group, version: n.version, state: n.state }, 0];
        entry[1]++;
        counts.set(key, entry);
      }
      return [...counts.values()];
    }),
  );
  viewGauge(r, 'keel_fleet_failed_nodes', 'Live nodes that failed (health gate or counted by a rollout), by running version.', ['group', 'version'], () => groups().flatMap((g) => g.versions.map((v) => [{ group: g.group, version: v.version }, v.failed] as [Labels, number])));
  viewGauge(r, 'keel_fleet_lost_nodes', 'Nodes whose record lease expired within the last day.', ['group'], () => groups().map((g) => [{ group: g.group }, g.nodes.filter((n) => n.lost).length]));
  viewGauge(r, 'keel_fleet_node_health', 'Live nodes by their last health gate verdict (none: not reported).', ['group', 'verdict'], () =>
    groups().flatMap((g) => {
      const counts: Record<string, number> = { passed: 0, failed: 0, pending: 0, none: 0 };
      for (const n of g.nodes.filter((n) => !n.lost)) counts[n.health?.verdict ?? 'none'] = (counts[n.health?.verdict ?? 'none'] ?? 0) + 1;
      return Object.entries(counts).map(([verdict, c]) => [{ group: g.group, verdict }, c] as [Labels, number]);
    }),
  );
  viewGauge(r, 'keel_fleet_node_last_check_timestamp_seconds', "When a node's update agent last checked for a release (Unix time).", ['group', 'machine_id'], () =>
    groups().flatMap((g) => g.nodes.filter((n) => !n.lost && n.lastCheck).map((n) => [{ group: g.group, machine_id: n.machineId }, seconds(n.lastCheck)!] as [Labels, number])),
  );
  viewGauge(r, 'keel_fleet_node_last_error_timestamp_seconds', "When a node's update agent last failed (Unix time; its record keeps the message).", ['group', 'machine_id'], () =>
    groups().flatMap((g) => g.nodes.filter((n) => !n.lost && n.lastError).map((n) => [{ group: g.group, machine_id: n.machineId }, seconds(n.lastError!.at)!] as [Labels, number])),
  );
  viewGauge(r, 'keel_fleet_rollout_nodes', 'Nodes a rollout counts, by outcome (started, succeeded, failed).', ['group', 'version', 'outcome'], () =>
    groups().flatMap((g) => g.rollouts.flatMap((ro) => (['started', 'succeeded', 'failed'] as const).map((outcome) => [{ group: g.group, version: ro.version, outcome }, ro[outcome]] as [Labels, number]))),
  );
  viewGauge(r, 'keel_fleet_rollout_halted', 'Whether the rollout of a version is halted (1) or running (0).', ['group', 'version'], () => groups().flatMap((g) => g.rollouts.map((ro) => [{ group: g.group, version: ro.version }, ro.state === 'halted' ? 1 : 0] as [Labels, number])));
  viewGauge(r, 'keel_fleet_reboot_slots', "Reboot slots of the group's lock.", ['group'], () => groups().flatMap((g) => (g.slots ? [[{ group: g.group }, g.slots.total] as [Labels, number]] : [])));
  viewGauge(r, 'keel_fleet_reboot_slot_holders', 'Reboot slots held now.', ['group'], () => groups().flatMap((g) => (g.slots ? [[{ group: g.group }, g.slots.holders.length] as [Labels, number]] : [])));
  viewGauge(r, 'keel_fleet_reboot_slot_held_seconds', 'How long each holder has held its reboot slot.', ['group', 'holder', 'hostname'], () =>
    groups().flatMap((g) => (g.slots?.holders ?? []).filter((h) => h.since).map((h) => [{ group: g.group, holder: h.holder, hostname: h.hostname ?? '' }, Math.max(0, (now() - Date.parse(h.since!)) / 1000)] as [Labels, number])),
  );
  viewGauge(r, 'keel_fleet_record_warnings', 'Records under the group that could not be read (each is logged and shown on the page).', ['group'], () => groups().map((g) => [{ group: g.group }, g.warnings.length]));
  return r;
}
