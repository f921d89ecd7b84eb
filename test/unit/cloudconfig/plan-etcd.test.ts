// The etcd member in a plan (src/cloudconfig/plan-etcd.ts): given etcd flags, the host runs
// etcd.service at every boot, after the files the config writes, without keel-cloudinit
// waiting for a quorum.
import { describe, expect, test } from 'vitest';
import { planCloudConfig } from '../../../src/cloudconfig/plan.js';
import { describeOperation } from '../../../src/cloudconfig/plan-format.js';
import { etcdDropIn, memberEnvironment } from '../../../src/cloudconfig/plan-etcd.js';
import { environmentOfDropIn } from '../../../src/lock/local-member.js';
import { parseUnitFile, unitValues } from '../../../src/systemd/unit-file.js';
import type { Operation } from '../../../src/cloudconfig/operation.js';
import { config, file, input, unit } from './plan-fixtures.js';

const lines = (ops: Operation[]) => ops.map((o) => describeOperation(o).replace(/ \d+ bytes$/, ''));
const member = { environment: { ETCD_NAME: 'keel-1', ETCD_INITIAL_CLUSTER: 'keel-1=https://10.77.0.11:2380,keel-2=https://10.77.0.12:2380', ETCD_CERT_FILE: '/etc/etcd/tls/server.pem', ETCD_KEY_FILE: '/etc/etcd/tls/server-key.pem' } };
const tlsFiles = [file('/etc/etcd/tls/server.pem', 'cert', { owner: 'etcd:etcd' }), file('/etc/etcd/tls/server-key.pem', 'key', { owner: 'etcd:etcd', permissions: 0o600 })];

describe('a config with etcd flags runs the member', () => {
  test('live: TLS files, then the drop-in, the enable, one daemon-reload and a start not waited for', () => {
    const plan = planCloudConfig(input(config({ etcd: member, writeFiles: tlsFiles })));
    expect(lines(plan.operations)).toEqual([
      'write-file /etc/etcd/tls/server.pem 0644 etcd:etcd',
      'write-file /etc/etcd/tls/server-key.pem 0600 etcd:etcd',
      'write-etcd-environment /etc/systemd/system/etcd.service.d/20-cloudinit.conf 0644 root:root',
      'enable-unit etcd.service',
      'daemon-reload',
      'unit-command start etcd.service (no-block)',
      'record-instance iid-test',
    ]);
    expect(plan.notes).toEqual(['etcd settings are given: etcd.service is enabled, so the member starts at every boot']);
  });

  test('offline: enabled in the root, which starts it at boot; no first-boot script for it', () => {
    const plan = planCloudConfig(input(config({ etcd: member }), { live: false }));
    expect(lines(plan.operations)).toEqual([
      'write-etcd-environment /etc/systemd/system/etcd.service.d/20-cloudinit.conf 0644 root:root',
      'enable-unit etcd.service',
      'daemon-reload',
      'record-instance iid-test',
    ]);
  });

  test("offline: a config's own start goes into the first-boot script, without blocking as every command there", () => {
    const plan = planCloudConfig(input(config({ etcd: member, units: [unit('etcd.service', { command: 'start' })] }), { live: false }));
    const script = plan.operations.find((o): o is Extract<Operation, { kind: 'write-file' }> => o.kind === 'write-file' && o.file.path.startsWith('/var/lib/keel/scripts/'));
    expect(new TextDecoder().decode(script!.file.content)).toContain('systemctl --no-block start etcd.service');
  });

  test("a CoreOS config's start of etcd2.service is kept, made persistent and not waited for", () => {
    const plan = planCloudConfig(input(config({ etcd: member, units: [unit('etcd2.service', { command: 'start', dropIns: [{ name: '40-limits.conf', content: '[Service]\nLimitNOFILE=65536\n' }] })] })));
    expect(lines(plan.operations).filter((l) => /etcd/.test(l))).toEqual([
      'write-etcd-environment /etc/systemd/system/etcd.service.d/20-cloudinit.conf 0644 root:root',
      'write-drop-in /etc/systemd/system/etcd.service.d/40-limits.conf 0644 root:root',
      'enable-unit etcd.service',
      'unit-command start etcd.service (no-block)',
    ]);
    expect(plan.notes).toEqual(['etcd2.service is called etcd.service on keel; applying its settings to etcd.service', 'etcd settings are given: etcd.service is enabled, so the member starts at every boot']);
  });

  test('an explicit enable gets no note; a config that restarts etcd keeps its restart', () => {
    const plan = planCloudConfig(input(config({ etcd: member, units: [unit('etcd.service', { enable: true, command: 'restart' })] })));
    expect(lines(plan.operations)).toContain('unit-command restart etcd.service (no-block)');
    expect(plan.notes).toEqual([]);
  });

  test('a masked etcd.service stays masked, with a note', () => {
    const plan = planCloudConfig(input(config({ etcd: member, units: [unit('etcd.service', { mask: true })] })));
    expect(lines(plan.operations).filter((l) => /etcd/.test(l))).toEqual([
      'write-etcd-environment /etc/systemd/system/etcd.service.d/20-cloudinit.conf 0644 root:root',
      'mask-unit etcd.service (/etc/systemd/system/etcd.service -> /dev/null)',
    ]);
    expect(plan.notes).toEqual(['etcd settings are given but etcd.service is masked; the member will not run']);
  });

  test('without etcd flags nothing about etcd is planned', () => {
    expect(lines(planCloudConfig(input(config({ writeFiles: tlsFiles }))).operations).filter((l) => /etcd\.service/.test(l))).toEqual([]);
  });
});

describe('static addresses from write_files', () => {
  test('live: networkd is restarted to read them, before etcd starts on them', () => {
    const network = file('/etc/systemd/network/20-cluster.network', '[Match]\nName=ens4\n[Network]\nAddress=10.77.0.11/24\n');
    const plan = planCloudConfig(input(config({ etcd: member, writeFiles: [network] })));
    expect(lines(plan.operations).filter((l) => l.startsWith('unit-command'))).toEqual(['unit-command restart systemd-networkd.service', 'unit-command start etcd.service (no-block)']);
  });

  test('offline: networkd reads them at boot, no restart', () => {
    const network = file('/etc/systemd/network/20-cluster.network', '[Match]\nName=ens4\n');
    const plan = planCloudConfig(input(config({ writeFiles: [network] }), { live: false }));
    expect(lines(plan.operations).some((l) => l.includes('systemd-networkd'))).toBe(false);
  });

  test('a file elsewhere, or not a networkd file, restarts nothing', () => {
    const plan = planCloudConfig(input(config({ writeFiles: [file('/etc/systemd/network/README', 'x'), file('/etc/network-notes.network', 'x')] })));
    expect(lines(plan.operations).some((l) => l.startsWith('unit-command'))).toBe(false);
  });
});

test("the member's history is compacted every hour unless the config says how", () => {
  const plan = planCloudConfig(input(config({ etcd: member })));
  const dropIn = plan.operations.find((o): o is Extract<Operation, { kind: 'write-etcd-environment' }> => o.kind === 'write-etcd-environment')!;
  expect(environmentOfDropIn(new TextDecoder().decode(dropIn.file.content))).toEqual({ ...member.environment, ETCD_AUTO_COMPACTION_MODE: 'periodic', ETCD_AUTO_COMPACTION_RETENTION: '1h' });
  expect(memberEnvironment({ ETCD_NAME: 'a', ETCD_AUTO_COMPACTION_RETENTION: '24' })).toEqual({ ETCD_NAME: 'a', ETCD_AUTO_COMPACTION_RETENTION: '24' });
  expect(memberEnvironment({ ETCD_NAME: 'a', ETCD_AUTO_COMPACTION_MODE: 'revision' })).toEqual({ ETCD_NAME: 'a', ETCD_AUTO_COMPACTION_MODE: 'revision' });
});

test('the drop-in: network-online ordering, restart on failure, then the environment', () => {
  expect(etcdDropIn({ ETCD_NAME: 'keel-1', ETCD_INITIAL_CLUSTER_TOKEN: '50%"x" y' })).toBe(
    [
      '# written by keel cloud-config (etcd settings); re-applied only with --force',
      '[Unit]',
      'Wants=network-online.target',
      'After=network-online.target',
      '',
      '[Service]',
      'Restart=on-failure',
      'RestartSec=5s',
      'Environment=ETCD_NAME=keel-1',
      'Environment="ETCD_INITIAL_CLUSTER_TOKEN=50%%\\"x\\" y"',
      '',
    ].join('\n'),
  );
});

test('a value with line breaks stays inside its Environment= line (the drop-in used to take it as directives)', () => {
  const hostile = 'keel-1\n[Service]\nExecStartPre=/bin/touch /tmp/owned\n';
  const text = etcdDropIn({ ETCD_NAME: hostile });
  const unit = parseUnitFile(text);
  expect(unit.sections.map((s) => s.name)).toEqual(['Unit', 'Service']);
  expect(unitValues(unit, 'Service', 'ExecStartPre')).toEqual([]);
  expect(text).toContain('Environment="ETCD_NAME=keel-1\\n[Service]\\nExecStartPre=/bin/touch /tmp/owned\\n"\n');
  // and it reads back as the value it was
  expect(environmentOfDropIn(text)).toEqual({ ETCD_NAME: hostile });
});
