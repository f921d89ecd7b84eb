/** Builders for CloudConfig objects in planner and applier tests (no validator needed). */
import type { CloudConfig, Unit, User, WriteFile } from '../../../src/cloudconfig/model.js';
import type { Metadata } from '../../../src/cloudconfig/metadata.js';
import type { PlanInput } from '../../../src/cloudconfig/plan.js';

export function config(partial: Partial<CloudConfig> = {}): CloudConfig {
  return {
    sshAuthorizedKeys: [],
    users: [],
    writeFiles: [],
    runcmd: [],
    bootcmd: [],
    units: [],
    update: { windows: [] },
    lock: { endpoints: [] },
    containers: { specs: [], discoveryEndpoints: [] },
    ...partial,
  };
}

export function user(name: string, partial: Partial<User> = {}): User {
  return { name, groups: [], sshAuthorizedKeys: [], ...partial };
}

export function unit(name: string, partial: Partial<Unit> = {}): Unit {
  return { name, dropIns: [], ...partial };
}

export function file(path: string, text: string, partial: Partial<WriteFile> = {}): WriteFile {
  return { path, content: new TextEncoder().encode(text), permissions: 0o644, append: false, ...partial };
}

export const noMetadata: Metadata = { sshPublicKeys: [] };

export function input(c: CloudConfig, partial: Partial<PlanInput> = {}): PlanInput {
  return { userData: { kind: 'cloud-config', config: c }, metadata: noMetadata, instanceId: 'iid-test', userDataSha256: 'ab'.repeat(32), live: true, ...partial };
}
