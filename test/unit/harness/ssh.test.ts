import { expect, test } from 'vitest';
import { sshArgs } from '../../harness/ssh.js';
import { defaultMetaData } from '../../harness/seed.js';

test('ssh never prompts, never records host keys, and targets the forwarded port', () => {
  const args = sshArgs({ port: 2222, user: 'core', keyPath: '/k/id', connectTimeoutS: 10 }, 'hostname');
  expect(args.slice(0, 4)).toEqual(['-i', '/k/id', '-p', '2222']);
  for (const o of ['StrictHostKeyChecking=no', 'UserKnownHostsFile=/dev/null', 'BatchMode=yes', 'IdentitiesOnly=yes', 'ConnectTimeout=10'])
    expect(args).toContain(o);
  expect(args.slice(-3)).toEqual(['core@127.0.0.1', '--', 'hostname']);
});

test('default NoCloud meta-data names the instance', () => {
  expect(defaultMetaData('node1')).toBe('instance-id: node1\nlocal-hostname: node1\n');
});
