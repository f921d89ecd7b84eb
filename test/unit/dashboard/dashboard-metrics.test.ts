// /metrics text from sample records, parsed back with a Prometheus text-format parser:
// the families a scraper reads, their types, labels and values.
import { describe, expect, test } from 'vitest';
import { dashboardMetrics } from '../../../src/dashboard/dashboard-metrics.js';
import { groupView, type DashboardView } from '../../../src/dashboard/dashboard-view.js';
import { family, parsePrometheus } from './prometheus-text.js';
import { now, sampleInput } from './sample-records.js';

const view = (connected = true): DashboardView => ({ generatedAt: new Date(now).toISOString(), etcd: { connected, since: new Date(now).toISOString() }, groups: [groupView(sampleInput(), 7)] });
const values = (f: { metrics: { labels?: Record<string, string>; value?: string }[] }) => f.metrics.map((m) => [m.labels ?? {}, Number(m.value)]);

describe('dashboard /metrics', () => {
  test('the fleet gauges parse back with their labels and values', async () => {
    const text = await dashboardMetrics(() => view(), () => now + 30_000).metrics();
    const families = parsePrometheus(text);
    for (const f of families) expect(f.type, f.name).toBe('GAUGE');
    expect(values(family(families, 'keel_fleet_etcd_up'))).toEqual([[{}, 1]]);
    expect(values(family(families, 'keel_fleet_nodes'))).toEqual([
      [{ group: 'web', version: '2.0.0', state: 'steady' }, 1],
      [{ group: 'web', version: '1.0.0', state: 'rolled-back' }, 1],
      [{ group: 'web', version: '1.0.0', state: 'rebooting' }, 1],
    ]);
    expect(values(family(families, 'keel_fleet_failed_nodes'))).toEqual([
      [{ group: 'web', version: '1.0.0' }, 1],
      [{ group: 'web', version: '2.0.0' }, 0],
    ]);
    expect(values(family(families, 'keel_fleet_rollout_nodes'))).toEqual([
      [{ group: 'web', version: '2.0.0', outcome: 'started' }, 2],
      [{ group: 'web', version: '2.0.0', outcome: 'succeeded' }, 1],
      [{ group: 'web', version: '2.0.0', outcome: 'failed' }, 1],
    ]);
    expect(values(family(families, 'keel_fleet_rollout_halted'))).toEqual([[{ group: 'web', version: '2.0.0' }, 1]]);
    expect(values(family(families, 'keel_fleet_reboot_slots'))).toEqual([[{ group: 'web' }, 1]]);
    expect(values(family(families, 'keel_fleet_reboot_slot_holders'))).toEqual([[{ group: 'web' }, 1]]);
    // Held since 11:58, scraped at 12:00:30: the hold time is the scrape's, not the read's.
    expect(values(family(families, 'keel_fleet_reboot_slot_held_seconds'))).toEqual([[{ group: 'web', holder: 'n3', hostname: 'host-n3' }, 150]]);
    expect(values(family(families, 'keel_fleet_node_health'))).toEqual([
      [{ group: 'web', verdict: 'passed' }, 1],
      [{ group: 'web', verdict: 'failed' }, 1],
      [{ group: 'web', verdict: 'pending' }, 0],
      [{ group: 'web', verdict: 'none' }, 1],
    ]);
    expect(values(family(families, 'keel_fleet_node_last_error_timestamp_seconds'))).toEqual([[{ group: 'web', machine_id: 'n2' }, Date.parse('2026-12-03T11:40:00.000Z') / 1000]]);
    expect(values(family(families, 'keel_fleet_node_last_check_timestamp_seconds'))).toEqual([[{ group: 'web', machine_id: 'n1' }, Date.parse('2026-12-03T11:59:00.000Z') / 1000]]);
    expect(family(families, 'keel_fleet_nodes').help).toBe('Live nodes by running version and update agent state.');
  });

  test('etcd away: etcd_up is 0 and the last known gauges stay', async () => {
    const families = parsePrometheus(await dashboardMetrics(() => view(false)).metrics());
    expect(values(family(families, 'keel_fleet_etcd_up'))).toEqual([[{}, 0]]);
    expect(family(families, 'keel_fleet_nodes').metrics).toHaveLength(3);
  });

  test('a hostile label value is escaped so the text still parses', async () => {
    const v = view();
    v.groups[0]!.slots!.holders[0]!.hostname = 'a"b\\c\nd';
    const families = parsePrometheus(await dashboardMetrics(() => v).metrics());
    expect(family(families, 'keel_fleet_reboot_slot_held_seconds').metrics[0]!.labels!.hostname).toBe('a"b\\c\nd');
  });
});
