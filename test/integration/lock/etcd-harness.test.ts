// The harness itself, against real etcd: one member serves writes; three members elect a
// new leader after a kill; a partitioned member is cut off and rejoins; nothing is left behind.
import { describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { startEtcd } from '../../harness/etcd.js';

describe('etcd harness', () => {
  test('one member serves a write and a read', async () => {
    const etcd = await startEtcd();
    try {
      await etcd.etcdctl(['put', 'k', 'v']);
      expect((await etcd.etcdctl(['get', 'k', '--print-value-only'])).trim()).toBe('v');
    } finally {
      await etcd.stop();
    }
  });

  test('three members in namespaces: leader kill, restart, partition and heal', async () => {
    const etcd = await startEtcd({ members: 3, netns: true });
    const names = etcd.members.map((m) => m.netns!);
    try {
      const first = await etcd.leader();
      await etcd.kill(first);
      const second = await etcd.leader();
      expect(second.name).not.toBe(first.name);
      await etcd.restart(first);
      await etcd.partition(second);
      const third = await etcd.leader();
      expect(third.name).not.toBe(second.name);
      await etcd.etcdctl(['put', 'k', 'after-partition', '--command-timeout=3s']);
      await etcd.heal(second);
    } finally {
      await etcd.stop();
    }
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    for (const ns of names) expect(left).not.toContain(ns);
  });
});
