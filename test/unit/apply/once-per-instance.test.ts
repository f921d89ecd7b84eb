// Once per instance: a second apply for an instance keeps only bootcmd unless forced, and
// says whether the user-data changed; the record is read from the root.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { decideForInstance, planForInstance } from '../../../src/apply/once-per-instance.js';
import { type InstanceRecord, writeInstanceRecord } from '../../../src/apply/instance-record.js';
import { planCloudConfig } from '../../../src/cloudconfig/plan.js';
import { RootFs } from '../../../src/host/root-fs.js';
import { config, input } from '../cloudconfig/plan-fixtures.js';
import { makeRoot } from './temp-root.js';

const plan = planCloudConfig(input(config({ hostname: 'node1', bootcmd: [['echo', 'boot']], runcmd: ['echo once'] }), { live: true }));
const record = (userDataSha256: string): InstanceRecord => ({ instanceId: plan.instanceId, userDataSha256, appliedAt: '2024-05-01T12:00:00.000Z', keelVersion: 'test', operations: 3, failures: [] });

describe('decideForInstance', () => {
  test('a first apply gets the whole plan', () => {
    expect(decideForInstance(plan, undefined, false)).toEqual({ plan, userDataChanged: false });
  });

  test('an instance applied before keeps only bootcmd and no notes', () => {
    const decision = decideForInstance({ ...plan, notes: ['a note'] }, record(plan.userDataSha256), false);
    expect(decision.plan.operations.map((op) => op.kind)).toEqual(['run-bootcmd']);
    expect(decision.plan.notes).toEqual([]);
    expect(decision.previous).toEqual(record(plan.userDataSha256));
    expect(decision.userDataChanged).toBe(false);
  });

  test('changed user-data for the same instance is reported, not applied', () => {
    const decision = decideForInstance(plan, record('0'.repeat(64)), false);
    expect(decision.userDataChanged).toBe(true);
    expect(decision.plan.operations.map((op) => op.kind)).toEqual(['run-bootcmd']);
  });

  test('--force applies the whole plan again', () => {
    expect(decideForInstance(plan, record(plan.userDataSha256), true)).toEqual({ plan, userDataChanged: false });
  });

  test('without bootcmd an applied instance has nothing left to do', () => {
    const noBoot = planCloudConfig(input(config({ runcmd: ['echo once'] }), { live: true }));
    expect(decideForInstance(noBoot, record(noBoot.userDataSha256), false).plan.operations).toEqual([]);
  });
});

describe('planForInstance', () => {
  let root: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ root, cleanup } = await makeRoot()));
  afterEach(async () => cleanup());

  test('reads the record of this instance under the root', async () => {
    const fs = new RootFs(root);
    expect((await planForInstance(fs, plan, false)).previous).toBeUndefined();
    await writeInstanceRecord(fs, record(plan.userDataSha256));
    const decision = await planForInstance(fs, plan, false);
    expect(decision.previous?.appliedAt).toBe('2024-05-01T12:00:00.000Z');
    expect(decision.plan.operations.map((op) => op.kind)).toEqual(['run-bootcmd']);
  });
});
