import { describe, expect, test } from 'vitest';
import { defaultSecurity } from '../../../src/containers/security-fields.js';
import { planCloudConfig } from '../../../src/cloudconfig/plan.js';
import { describeOperation } from '../../../src/cloudconfig/plan-format.js';
import type { Operation } from '../../../src/cloudconfig/operation.js';
import { KeelError } from '../../../src/errors.js';
import { config, file, input, unit, user } from './plan-fixtures.js';

const kinds = (ops: Operation[]) => ops.map((o) => o.kind);
/** Descriptions without byte counts (the texts are checked where they matter). */
const lines = (ops: Operation[]) => ops.map((o) => describeOperation(o).replace(/ \d+ bytes$/, ''));

function conflict(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(KeelError);
    expect((error as KeelError).kind).toBe('conflict');
    return (error as KeelError).message;
  }
  throw new Error('expected a conflict');
}

describe('order', () => {
  const c = config({
    hostname: 'node1',
    bootcmd: ['echo boot'],
    runcmd: ['echo run'],
    users: [user('alice', { groups: ['docker'] })],
    writeFiles: [file('/etc/motd', 'hi\n')],
    units: [
      unit('a.service', { content: '[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n', enable: true, command: 'start' }),
      unit('b.service', { dropIns: [{ name: '10-x.conf', content: '[Service]\n' }], command: 'restart' }),
      unit('c.service', { mask: true }),
    ],
  });

  test('live: bootcmd, identity, users, files, units, one daemon-reload, commands in list order, runcmd, record', () => {
    const plan = planCloudConfig(input(c));
    expect(kinds(plan.operations)).toEqual([
      'run-bootcmd',
      'set-hostname',
      'create-group',
      'create-user',
      'write-file',
      'write-unit',
      'write-drop-in',
      'enable-unit',
      'mask-unit',
      'daemon-reload',
      'unit-command',
      'unit-command',
      'run-commands',
      'record-instance',
    ]);
    expect(lines(plan.operations).filter((l) => l.startsWith('unit-command'))).toEqual(['unit-command start a.service', 'unit-command restart b.service']);
  });

  test('exactly one daemon-reload, before every command', () => {
    const ops = planCloudConfig(input(c)).operations;
    expect(ops.filter((o) => o.kind === 'daemon-reload')).toHaveLength(1);
    const reload = ops.findIndex((o) => o.kind === 'daemon-reload');
    ops.forEach((o, i) => {
      if (o.kind === 'unit-command' || o.kind === 'run-commands') expect(i).toBeGreaterThan(reload);
      if (o.kind === 'write-unit' || o.kind === 'write-drop-in' || o.kind === 'enable-unit' || o.kind === 'mask-unit') expect(i).toBeLessThan(reload);
    });
  });

  test('offline: commands become a first-boot script and unit, bootcmd a per-boot unit; nothing runs', () => {
    const plan = planCloudConfig(input(c, { live: false }));
    expect(plan.operations.some((o) => ['run-bootcmd', 'unit-command', 'run-commands', 'run-script'].includes(o.kind))).toBe(false);
    const d = lines(plan.operations);
    expect(d).toContain('write-file /var/lib/keel/scripts/bootcmd.sh 0700 root:root');
    expect(d.some((l) => l.startsWith('write-unit /etc/systemd/system/keel-firstboot.service'))).toBe(true);
    expect(d).toContain('enable-unit keel-firstboot.service');
    expect(d).toContain('enable-unit keel-bootcmd.service');
    const script = plan.operations.find((o) => o.kind === 'write-file' && o.file.path === '/var/lib/keel/scripts/iid-test.sh');
    const text = new TextDecoder().decode(script && 'file' in script ? script.file.content : new Uint8Array());
    expect(text.split('\n').slice(2)).toEqual(['systemctl --no-block start a.service', 'systemctl --no-block restart b.service', 'echo run', '']);
  });

  test('the record counts the bootcmd lines keel runs again on later boots', () => {
    const record = (ops: Operation[]) => ops.find((o) => o.kind === 'record-instance');
    expect(record(planCloudConfig(input(config({ bootcmd: ['echo a', ['echo', 'b']] }))).operations)).toMatchObject({ bootcmds: 2 });
    // Offline, a per-boot unit runs them, not keel.
    expect(record(planCloudConfig({ ...input(config({ bootcmd: ['echo a'] })), live: false }).operations)).toMatchObject({ bootcmds: 0 });
    expect(record(planCloudConfig(input(config({ hostname: 'h' }))).operations)).toMatchObject({ bootcmds: 0 });
  });

  test('no units: no daemon-reload', () => {
    expect(kinds(planCloudConfig(input(config({ hostname: 'h' }))).operations)).toEqual(['set-hostname', 'record-instance']);
  });

  test('empty user-data: only the record', () => {
    expect(kinds(planCloudConfig({ ...input(config()), userData: { kind: 'empty' } }).operations)).toEqual(['record-instance']);
  });

  test('a #! script: live runs it as a transient unit after writing it', () => {
    const plan = planCloudConfig({ ...input(config()), userData: { kind: 'script', text: '#!/bin/sh\necho hi\n' } });
    expect(lines(plan.operations)).toEqual(['write-file /var/lib/keel/scripts/iid-test.sh 0700 root:root', 'run-script /var/lib/keel/scripts/iid-test.sh as keel-script-iid-test.service', 'record-instance iid-test']);
  });

  test('a #! script offline: installed with an enabled first-boot unit', () => {
    const plan = planCloudConfig({ ...input(config(), { live: false }), userData: { kind: 'script', text: '#!/bin/sh\necho hi\n' } });
    expect(kinds(plan.operations)).toEqual(['write-file', 'write-unit', 'enable-unit', 'daemon-reload', 'record-instance']);
  });
});

describe('networkd units', () => {
  test('restart systemd-networkd once, before other commands, instead of their own commands', () => {
    const plan = planCloudConfig(
      input(
        config({
          units: [
            unit('app.service', { command: 'start' }),
            unit('eth0.network', { content: '[Match]\nName=eth0\n', command: 'start' }),
            unit('br0.netdev', { content: '[NetDev]\nName=br0\nKind=bridge\n' }),
          ],
        }),
      ),
    );
    expect(lines(plan.operations)).toEqual([
      'write-unit /etc/systemd/network/eth0.network 0644 root:root',
      'write-unit /etc/systemd/network/br0.netdev 0644 root:root',
      'daemon-reload',
      'unit-command restart systemd-networkd.service',
      'unit-command start app.service',
      'record-instance iid-test',
    ]);
  });

  test('runtime networkd files go under /run/systemd/network', () => {
    const plan = planCloudConfig(input(config({ units: [unit('eth0.network', { content: '[Match]\n', runtime: true })] })));
    expect(lines(plan.operations)[0]).toMatch(/^write-unit \/run\/systemd\/network\/eth0.network /);
  });
});

describe('default user core', () => {
  test('top-level keys and metadata keys go to core, who is created with sudo', () => {
    const plan = planCloudConfig(input(config({ sshAuthorizedKeys: ['ssh-ed25519 AAAA one'] }), { metadata: { sshPublicKeys: ['ssh-ed25519 BBBB two', 'ssh-ed25519 AAAA one'] } }));
    expect(lines(plan.operations)).toEqual([
      'create-user core if missing (groups if present sudo,wheel,docker,systemd-journal)',
      'install-ssh-keys core (2 keys)',
      'write-sudoers core /etc/sudoers.d/90-keel-core 0440 root:root',
      'record-instance iid-test',
    ]);
  });

  test('no keys: no core', () => {
    expect(kinds(planCloudConfig(input(config())).operations)).toEqual(['record-instance']);
  });

  test('core listed in users gets the top-level keys merged', () => {
    const plan = planCloudConfig(input(config({ sshAuthorizedKeys: ['k1'], users: [user('core', { sshAuthorizedKeys: ['k2'] })] })));
    const keys = plan.operations.find((o) => o.kind === 'install-ssh-keys');
    expect(keys && 'keys' in keys ? keys.keys : []).toEqual(['k2', 'k1']);
    expect(plan.operations.filter((o) => o.kind === 'create-user')).toHaveLength(1);
  });

  test('metadata hostname is used when the config has none', () => {
    const plan = planCloudConfig(input(config(), { metadata: { sshPublicKeys: [], hostname: 'from-meta' } }));
    expect(lines(plan.operations)[0]).toBe('set-hostname from-meta (/etc/hostname)');
  });
});

describe('users', () => {
  test('password, lock, keys and sudo each become an operation', () => {
    const plan = planCloudConfig(input(config({ users: [user('bob', { passwd: '$6$x$y', lockPasswd: true, sshAuthorizedKeys: ['k'], sudo: ['ALL=(ALL) ALL'], groups: ['adm', 'bob'] })] })));
    expect(lines(plan.operations)).toEqual([
      'create-group adm if missing',
      'create-user bob if missing (groups adm,bob)',
      'set-password bob (new hash) (locked)',
      'install-ssh-keys bob (1 key)',
      'write-sudoers bob /etc/sudoers.d/90-keel-bob 0440 root:root',
      'record-instance iid-test',
    ]);
  });
});

describe('conflicts are refused before anything is planned', () => {
  test.each([
    ['two writes of one path', config({ writeFiles: [file('/etc/a', '1'), file('/etc/./a', '2')] }), /\/etc\/a is written twice, by write_files and by write_files/],
    ['a file over a unit', config({ writeFiles: [file('/etc/systemd/system/x.service', '')], units: [unit('x.service', { content: '[Unit]\n' })] }), /x.service is written twice, by write_files and by unit x.service/],
    ['a file over a drop-in', config({ writeFiles: [file('/etc/systemd/system/x.service.d/a.conf', '')], units: [unit('x.service', { dropIns: [{ name: 'a.conf', content: '' }] })] }), /written twice/],
    ['a file over /etc/hostname', config({ hostname: 'h', writeFiles: [file('/etc/hostname', 'x')] }), /\/etc\/hostname is written twice, by set-hostname and by write_files/],
    ['two units with one name', config({ units: [unit('x.service'), unit('x.service')] }), /unit "x.service" is defined twice/],
    ['a user twice', config({ users: [user('a'), user('a')] }), /user "a" is defined twice/],
    ['a write under /usr', config({ writeFiles: [file('/usr/bin/x', '')] }), /is under \/usr, which is read-only/],
    ['a write under /usr via ..', config({ writeFiles: [file('/etc/../usr/lib/x', '')] }), /under \/usr/],
    ['a relative path', config({ writeFiles: [file('etc/x', '')] }), /is relative/],
    ['mask with content', config({ units: [unit('x.service', { content: '[Unit]\n', mask: true })] }), /has content and mask: true/],
    ['enable with mask', config({ units: [unit('x.service', { enable: true, mask: true })] }), /both enable: true and mask: true/],
    ['a bad unit name', config({ units: [unit('../x.service')] }), /is not a unit name/],
    ['a drop-in name with a slash', config({ units: [unit('x.service', { dropIns: [{ name: '../../x.conf', content: '' }] })] }), /is not a file name/],
    ['a hostile time zone', config({ timezone: '../../etc/passwd' }), /timezone/],
    ['a config unit named like keel\'s own', config({ runcmd: ['true'], units: [unit('keel-firstboot.service')] }), /defined twice/],
  ])('%s', (_name, c, message) => {
    const live = !_name.includes("keel's own");
    expect(conflict(() => planCloudConfig(input(c, { live })))).toMatch(message);
  });

  test('every conflict is listed, not just the first', () => {
    const message = conflict(() => planCloudConfig(input(config({ users: [user('a'), user('a')], writeFiles: [file('/usr/x', ''), file('/etc/a', ''), file('/etc/a', '')] }))));
    expect(message.split('\n')).toHaveLength(3);
  });

  test('appends after a write of the same path are allowed', () => {
    const plan = planCloudConfig(input(config({ writeFiles: [file('/etc/a', '1'), file('/etc/a', '2', { append: true }), file('/etc/a', '3', { append: true })] })));
    expect(plan.operations.filter((o) => o.kind === 'write-file')).toHaveLength(3);
  });

  test('a file too large is refused', () => {
    const big = { path: '/etc/big', content: new Uint8Array(16 * 1024 * 1024 + 1), permissions: 0o644, append: false };
    expect(conflict(() => planCloudConfig(input(config({ writeFiles: [big] }))))).toMatch(/expected at most 16777216/);
  });
});

describe('settings', () => {
  test('update, lock, etcd, oem and containers become files', () => {
    const plan = planCloudConfig(
      input(
        config({
          update: { rebootStrategy: 'etcd-lock', group: 'stable', windows: [] },
          lock: { endpoints: ['http://10.0.0.1:2379'], password: 'secret' },
          etcd: { environment: { ETCD_NAME: 'n1', ETCD_INITIAL_CLUSTER: 'n1=http://a:2380' } },
          oem: { id: 'qemu', name: 'QEMU' },
          containers: { specs: [{ name: 'web', image: 'localhost/web:1', args: [], environment: {}, environmentFiles: [], ports: [], volumes: [], restart: 'always', restartDelaySeconds: 1, restartMaxDelaySeconds: 60, after: [], requires: [], readOnlyRootfs: true, security: defaultSecurity }], discoveryEndpoints: [] },
        }),
      ),
    );
    expect(lines(plan.operations)).toEqual([
      'write-oem-release /etc/oem-release 0644 root:root',
      'write-keel-config update /etc/keel/update.conf 0644 root:root',
      'write-keel-config lock /etc/keel/lock.conf 0600 root:root',
      'write-keel-config container /etc/keel/containers/web.yaml 0644 root:root',
      'write-etcd-environment /etc/systemd/system/etcd.service.d/20-cloudinit.conf 0644 root:root',
      'enable-unit etcd.service',
      'daemon-reload',
      'unit-command start etcd.service (no-block)',
      'record-instance iid-test',
    ]);
  });
});

describe('CoreOS compatibility', () => {
  test('a bare etcd2.service is taken as etcd.service, with a note', () => {
    const plan = planCloudConfig(input(config({ units: [unit('etcd2.service', { command: 'start' })] })));
    expect(lines(plan.operations)).toContain('unit-command start etcd.service (no-block)');
    expect(plan.notes).toEqual(['etcd2.service is called etcd.service on keel; applying its settings to etcd.service']);
  });

  test('an offline runtime unit gets a note', () => {
    const plan = planCloudConfig(input(config({ units: [unit('a.service', { content: '[Service]\n', runtime: true })] }), { live: false }));
    expect(plan.notes[0]).toMatch(/will not be there/);
  });
});
