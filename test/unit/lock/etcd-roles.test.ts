// keel's etcd roles: the prefixes they may use and the steps setup-auth takes (and prints).
import { describe, expect, test } from 'vitest';
import { agentRole, authPlan, etcdctlCommand, fleetPrefix, lockPrefix, operatorRole, rolePermissions } from '../../../src/lock/etcd-roles.js';
import { semaphoreKey, holderKey } from '../../../src/lock/group-keys.js';
import { queueKey } from '../../../src/lock/wait-queue.js';
import { releasedKey } from '../../../src/lock/release-marks.js';
import { servicesPrefix } from '../../../src/containers/discovery.js';

describe('etcd roles', () => {
  test('every key keel writes is under a prefix both roles may write', () => {
    const keys = [semaphoreKey('default'), holderKey('g', 'n1'), queueKey('g', 42, 'n1'), releasedKey('g', 'n1', 42), `${servicesPrefix}web/n1`];
    for (const role of [agentRole, operatorRole]) {
      const writable = rolePermissions[role]!.filter((p) => p.permission !== 'read').map((p) => p.prefix);
      for (const key of keys) expect(writable.some((p) => key.startsWith(p)), `${role} may write ${key}`).toBe(true);
    }
    expect([lockPrefix, fleetPrefix]).toEqual(['com.coreos.airlock/', '/keel/']);
  });

  test('the plan: root first, auth enabled last; dry-run commands are etcdctl v3', () => {
    const steps = authPlan({ agentUser: 'agent', operatorUser: 'ops', passwords: { root: 'KEEL_ETCD_ROOT_PASSWORD', agent: 'KEEL_ETCD_AGENT_PASSWORD' } });
    expect(steps.map(etcdctlCommand)).toEqual([
      'etcdctl user add root:"$KEEL_ETCD_ROOT_PASSWORD"',
      'etcdctl user grant-role root root',
      'etcdctl role add keel-agent',
      'etcdctl role grant-permission keel-agent readwrite com.coreos.airlock/ --prefix',
      'etcdctl role grant-permission keel-agent readwrite /keel/ --prefix',
      'etcdctl user add agent:"$KEEL_ETCD_AGENT_PASSWORD"',
      'etcdctl user grant-role agent keel-agent',
      'etcdctl role add keel-operator',
      'etcdctl role grant-permission keel-operator readwrite com.coreos.airlock/ --prefix',
      'etcdctl role grant-permission keel-operator readwrite /keel/ --prefix',
      'etcdctl user add ops:"$(head -c 24 /dev/urandom | base64)"   # logs in with a client certificate whose CN is ops',
      'etcdctl user grant-role ops keel-operator',
      'etcdctl auth enable',
    ]);
  });
});
