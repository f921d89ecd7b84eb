/**
 * Once per instance: a config is applied once for an instance id. When the root already
 * holds a record for the plan's instance, only `bootcmd` runs again (cloud-init runs it on
 * every boot), unless the apply is forced.
 */
import type { Plan } from '../cloudconfig/plan.js';
import type { RootFs } from '../host/root-fs.js';
import { type InstanceRecord, readInstanceRecord } from './instance-record.js';

/** What to apply for this instance, and what was found when it was applied before. */
export interface InstanceDecision {
  /** The whole plan, or only its bootcmd for an instance already applied (maybe no operation at all). */
  plan: Plan;
  /** The earlier apply's record, when it holds this apply back; absent for a first or forced apply. */
  previous?: InstanceRecord;
  /** True when `previous` was made from other user-data than the plan's. */
  userDataChanged: boolean;
}

/** The rule, given the record (pure). */
export function decideForInstance(plan: Plan, previous: InstanceRecord | undefined, force: boolean): InstanceDecision {
  if (!previous || force) return { plan, userDataChanged: false };
  return {
    plan: { ...plan, operations: plan.operations.filter((op) => op.kind === 'run-bootcmd'), notes: [] },
    previous,
    userDataChanged: previous.userDataSha256 !== plan.userDataSha256,
  };
}

/** Reads this instance's record under the root and applies the rule. */
export async function planForInstance(fs: RootFs, plan: Plan, force: boolean): Promise<InstanceDecision> {
  return decideForInstance(plan, await readInstanceRecord(fs, plan.instanceId), force);
}
