// A recording DashboardBackend for unit tests: reads return the sample input (or fail while
// `down`), watches hand their handlers to the test, actions and audit records are recorded.
import type { DashboardBackend, WatchHandlers } from '../../../src/dashboard/dashboard-backend.js';
import type { AuditRecord } from '../../../src/dashboard/audit-record.js';
import type { FleetInput } from '../../../src/fleet/fleet-status.js';
import { KeelError } from '../../../src/errors.js';
import { newRollout, type RolloutRecord } from '../../../src/fleet/rollout-record.js';

export class FakeBackend implements DashboardBackend {
  calls: string[] = [];
  audits: AuditRecord[] = [];
  watchers: WatchHandlers[] = [];
  down = false;
  revision = 10;
  halted = new Set<string>();
  holders = new Set<string>(['n3']);
  auditFails = false;

  constructor(public input: () => FleetInput) {}

  async read(group: string) {
    this.calls.push(`read ${group}`);
    if (this.down) throw new KeelError('unavailable', 'etcd did not answer: connect ECONNREFUSED 127.0.0.1:2379');
    return { input: { ...this.input(), group }, revision: this.revision };
  }
  async watch(group: string, revision: number, handlers: WatchHandlers) {
    this.calls.push(`watch ${group} ${revision}`);
    this.watchers.push(handlers);
    return { close: async () => void this.calls.push(`unwatch ${group}`) };
  }
  private record(version: string): RolloutRecord {
    const r = newRollout(version, '2026-12-03T12:00:00.000Z');
    return this.halted.has(version) ? { ...r, halted: { at: r.updatedAt, by: 'operator', reason: 'r' } } : r;
  }
  async halt(group: string, version: string, reason: string) {
    this.calls.push(`halt ${group} ${version} ${reason}`);
    if (this.down) throw new KeelError('unavailable', 'etcd did not answer');
    const changed = !this.halted.has(version);
    this.halted.add(version);
    return { ok: true as const, changed, record: this.record(version), attempts: 1 };
  }
  async resume(group: string, version: string) {
    this.calls.push(`resume ${group} ${version}`);
    const changed = this.halted.delete(version);
    return { ok: true as const, changed, record: this.record(version), attempts: 1 };
  }
  async release(group: string, holder: string) {
    this.calls.push(`release ${group} ${holder}`);
    return this.holders.delete(holder);
  }
  async audit(_group: string, record: AuditRecord) {
    if (this.auditFails) throw new KeelError('unavailable', 'etcd did not answer');
    this.audits.push(record);
  }
  async close() {
    this.calls.push('close');
  }
}
