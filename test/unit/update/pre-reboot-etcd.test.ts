// The etcd quorum check's judgement (src/update/pre-reboot-etcd.ts), and the stage running it
// only where the host runs a member. The real members' health is read in
// test/integration/update/pre-reboot-etcd.test.ts against a three-member etcd.
import { describe, expect, test } from 'vitest';
import { etcdQuorumProblem, judgeEtcdQuorum, type EtcdMemberView } from '../../../src/update/pre-reboot-etcd.js';
import { PreRebootStage } from '../../../src/update/pre-reboot.js';

const up = (name: string, local = false): EtcdMemberView => ({ name, healthy: true, local });
const down = (name: string, problem = 'no answer in time', local = false): EtcdMemberView => ({ name, healthy: false, problem, local });

describe('judgeEtcdQuorum', () => {
  test.each<[string, EtcdMemberView[], RegExp | undefined]>([
    ['one member: nothing to keep', [up('a', true)], undefined],
    ['three healthy', [up('a', true), up('b'), up('c')], undefined],
    ['another of three down', [up('a', true), down('b'), up('c')], /would leave 1 of 3 members, below the quorum of 2 \(b: no answer in time\)/],
    ['its own member of three down: the others keep quorum', [down('a', 'HTTP 503', true), up('b'), up('c')], undefined],
    ['one of five down', [up('a', true), down('b'), up('c'), up('d'), up('e')], undefined],
    ['two others of five down', [up('a', true), down('b'), down('c', 'unhealthy'), up('d'), up('e')], /leave 2 of 5 members, below the quorum of 3 \(b: no answer in time; c: unhealthy\)/],
    ['its own member not listed: counted as one of the healthy', [up('a'), up('b'), up('c')], undefined],
    ['its own member not listed, one down', [up('a'), down('b'), up('c')], /leave 1 of 3 members/],
    ['a member never started', [up('a', true), { name: '', healthy: false, problem: 'no client URL (never started)', local: false }, up('c')], /\(\(unnamed\): no client URL \(never started\)\)/],
  ])('%s', (_what, members, refused) => {
    const problem = judgeEtcdQuorum(members);
    if (refused) expect(problem).toMatch(refused);
    else expect(problem).toBeUndefined();
  });

  test('members that cannot be read are the reason', async () => {
    expect(await etcdQuorumProblem({ members: async () => Promise.reject(new Error('the local member did not list the cluster: no answer in time')) })).toBe(
      "pre-reboot etcd quorum: cannot read the cluster's members (the local member did not list the cluster: no answer in time)",
    );
  });
});

describe('the pre-reboot stage', () => {
  const quorumLost = { members: async () => [up('a', true), down('b'), down('c')] };
  test('runs the check where the host runs a member, with no other check configured', async () => {
    expect(await new PreRebootStage('/', { units: [] }, { etcd: quorumLost }).run()).toMatch(/^pre-reboot etcd quorum: rebooting this host would leave 0 of 3 members/);
  });
  test('PRE_REBOOT_ETCD_QUORUM=off leaves it out', async () => {
    expect(await new PreRebootStage('/', { units: [], etcdQuorum: false }, { etcd: quorumLost }).run()).toBeUndefined();
  });
  test('no member on the host: nothing to check', async () => {
    expect(await new PreRebootStage('/', { units: [] }, {}).run()).toBeUndefined();
  });
  test('the configured checks come first', async () => {
    const run = async () => ({ exitCode: 1, stdout: '', stderr: 'busy', signal: undefined, timedOut: false });
    expect(await new PreRebootStage('/', { units: [], command: 'exit 1' }, { etcd: quorumLost, run: run as never }).run()).toMatch(/^pre-reboot command "exit 1" exited 1: busy/);
  });
});
