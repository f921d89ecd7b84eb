// Valid cloud-configs → the CloudConfig model: every key lands on its field, CoreOS names
// map onto keel's, keel: wins over coreos:, defaults are filled in.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { validateCloudConfig } from '../../../src/cloudconfig/validate.js';
import type { CloudConfig } from '../../../src/cloudconfig/model.js';
import { defaultSecurity } from '../../../src/containers/security-fields.js';

const doc = (body: string) => `#cloud-config\n${body}\n`;

function modelOf(body: string): CloudConfig {
  const { config, problems } = validateCloudConfig(doc(body));
  expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
  expect(config).toBeDefined();
  return config!;
}

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

describe('valid cloud-config → model', () => {
  test('an empty document is an empty config', () => {
    expect(modelOf('')).toEqual({
      sshAuthorizedKeys: [],
      users: [],
      writeFiles: [],
      runcmd: [],
      bootcmd: [],
      units: [],
      update: { windows: [] },
      lock: { endpoints: [] },
      containers: { specs: [], discoveryEndpoints: [] },
    });
  });

  test.each(['UTC', 'Etc/GMT+2', 'Europe/Berlin', 'America/Argentina/Buenos_Aires', 'America/Port-au-Prince', 'EST5EDT', 'CET'])('timezone %s', (tz) => {
    expect(modelOf(`timezone: ${tz}`).timezone).toBe(tz);
  });

  test('top-level keys', () => {
    const c = modelOf('hostname: node-1.example.com\nmanage-etc-hosts: localhost\ntimezone: America/Argentina/Buenos_Aires\nssh_authorized_keys: ["ssh-ed25519 AAAA a@b"]');
    expect(c).toMatchObject({ hostname: 'node-1.example.com', manageEtcHosts: 'localhost', timezone: 'America/Argentina/Buenos_Aires', sshAuthorizedKeys: ['ssh-ed25519 AAAA a@b'] });
  });

  test('users with every field', () => {
    const c = modelOf(
      [
        'users:',
        '  - name: alice',
        '    passwd: $6$salt$hash',
        '    gecos: Alice A.',
        '    homedir: /home/alice',
        '    no_create_home: false',
        '    primary_group: staff',
        '    groups: [wheel, docker]',
        '    no_user_group: true',
        '    system: false',
        '    no_log_init: true',
        '    shell: /bin/bash',
        '    ssh_authorized_keys: [ssh-rsa AAA]',
        '    sudo: ALL=(ALL) NOPASSWD:ALL',
        '    lock_passwd: true',
        '  - name: bob',
        '    sudo: false',
        '  - name: carol',
        '    sudo: ["ALL=(ALL) ALL", "ALL=(root) /bin/ls"]',
      ].join('\n'),
    );
    expect(c.users).toEqual([
      {
        name: 'alice',
        passwd: '$6$salt$hash',
        gecos: 'Alice A.',
        homedir: '/home/alice',
        noCreateHome: false,
        primaryGroup: 'staff',
        groups: ['wheel', 'docker'],
        noUserGroup: true,
        system: false,
        noLogInit: true,
        shell: '/bin/bash',
        sshAuthorizedKeys: ['ssh-rsa AAA'],
        sudo: ['ALL=(ALL) NOPASSWD:ALL'],
        lockPasswd: true,
      },
      { name: 'bob', groups: [], sshAuthorizedKeys: [], sudo: [] },
      { name: 'carol', groups: [], sshAuthorizedKeys: [], sudo: ['ALL=(ALL) ALL', 'ALL=(root) /bin/ls'] },
    ]);
  });

  const gzB64 = gzipSync(Buffer.from('zipped\n')).toString('base64');
  test.each([
    ['plain', 'content: "hi\\n"', 'hi\n'],
    ['b64', 'encoding: b64\n    content: aGkK', 'hi\n'],
    ['base64', 'encoding: base64\n    content: aGkK', 'hi\n'],
    ['gz+b64', `encoding: gz+b64\n    content: ${gzB64}`, 'zipped\n'],
    ['gzip+base64', `encoding: gzip+base64\n    content: ${gzB64}`, 'zipped\n'],
    ['gz+base64', `encoding: gz+base64\n    content: ${gzB64}`, 'zipped\n'],
    ['gzip+b64', `encoding: gzip+b64\n    content: ${gzB64}`, 'zipped\n'],
    ['!!binary with base64', 'encoding: base64\n    content: !!binary aGkK', 'hi\n'],
    ['no content', 'owner: core', ''],
  ])('write_files encoding %s', (_n, fields, expected) => {
    const c = modelOf(`write_files:\n  - path: /etc/x\n    ${fields}`);
    expect(text(c.writeFiles[0]!.content)).toBe(expected);
  });

  test.each([
    ['"0644"', 0o644],
    ['"644"', 0o644],
    ['"0o755"', 0o755],
    ['0o755', 0o755],
    ['"0600"', 0o600],
    ['"4755"', 0o4755],
  ])('permissions %s', (given, mode) => {
    const c = modelOf(`write_files:\n  - path: /etc/x\n    permissions: ${given}`);
    expect(c.writeFiles[0]!.permissions).toBe(mode);
  });

  test('write_files defaults: mode 0644, no append, owner unset', () => {
    const c = modelOf('write_files:\n  - path: /etc/x\n    content: a\n  - path: /var/log/y\n    append: true\n    owner: core:core');
    expect(c.writeFiles.map((f) => [f.path, f.permissions, f.append, f.owner])).toEqual([
      ['/etc/x', 0o644, false, undefined],
      ['/var/log/y', 0o644, true, 'core:core'],
    ]);
  });

  test('runcmd and bootcmd keep strings and argv lists', () => {
    const c = modelOf('runcmd:\n  - echo one\n  - [ls, -l, 5]\nbootcmd:\n  - [sh, -c, "echo $HOME"]');
    expect(c.runcmd).toEqual(['echo one', ['ls', '-l', '5']]);
    expect(c.bootcmd).toEqual([['sh', '-c', 'echo $HOME']]);
  });

  test('units: coreos.units then keel.units, every field', () => {
    const c = modelOf(
      [
        'coreos:',
        '  units:',
        '    - name: etcd2.service',
        '      command: start',
        '      enable: true',
        '    - name: docker.socket',
        '      mask: true',
        '    - name: app@.service',
        '      runtime: true',
        '      content: "[Service]\\nExecStart=/bin/true\\n"',
        '      drop-ins:',
        '        - name: 10-env.conf',
        '          content: "[Service]\\nEnvironment=A=1\\n"',
        'keel:',
        '  units:',
        '    - name: web.timer',
        '      command: reload-or-try-restart',
      ].join('\n'),
    );
    expect(c.units).toEqual([
      { name: 'etcd2.service', dropIns: [], command: 'start', enable: true },
      { name: 'docker.socket', dropIns: [], mask: true },
      { name: 'app@.service', dropIns: [{ name: '10-env.conf', content: '[Service]\nEnvironment=A=1\n' }], runtime: true, content: '[Service]\nExecStart=/bin/true\n' },
      { name: 'web.timer', dropIns: [], command: 'reload-or-try-restart' },
    ]);
  });

  test('coreos.update and coreos.locksmith map to update and lock; keel wins field by field', () => {
    const c = modelOf(
      [
        'coreos:',
        '  update:',
        '    reboot-strategy: etcd-lock',
        '    group: stable',
        '    server: https://updates.example.com/v1',
        '  locksmith:',
        '    endpoint: "http://10.0.0.1:2379, http://10.0.0.2:2379"',
        '    etcd_cafile: /etc/ssl/ca.pem',
        '    etcd_certfile: /etc/ssl/cert.pem',
        '    etcd_keyfile: /etc/ssl/key.pem',
        '    etcd_username: lock',
        '    etcd_password: secret',
        '    group: web',
        '    window_start: Sun 03:00',
        '    window_length: 36h',
        'keel:',
        '  update:',
        '    group: beta',
        '    channel: beta',
        '    check_interval: 45m',
        '    rollout_wariness: 0.5',
        '    boot_tries: 1',
        '    postpone_while_logged_in: true',
        '    trust_key: /usr/share/keel/root.json',
        '    windows:',
        '      - days: [Mon, tuesday]',
        '        start: "04:30"',
        '        length: 90m',
        '        time_zone: Europe/Berlin',
        '  lock:',
        '    group: db',
        '    max_hold: 2h',
        '    fleetlock_url: http://127.0.0.1:8080',
      ].join('\n'),
    );
    expect(c.update).toEqual({
      rebootStrategy: 'etcd-lock',
      group: 'beta',
      server: 'https://updates.example.com/v1',
      channel: 'beta',
      checkIntervalMinutes: 45,
      rolloutWariness: 0.5,
      bootTries: 1,
      postponeWhileLoggedIn: true,
      trustKey: '/usr/share/keel/root.json',
      windows: [{ days: ['mon', 'tue'], start: '04:30', lengthMinutes: 90, timeZone: 'Europe/Berlin' }],
    });
    expect(c.lock).toEqual({
      endpoints: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'],
      cafile: '/etc/ssl/ca.pem',
      certfile: '/etc/ssl/cert.pem',
      keyfile: '/etc/ssl/key.pem',
      username: 'lock',
      password: 'secret',
      group: 'db',
      windowStart: 'Sun 03:00',
      windowLength: '36h',
      maxHold: '120m',
      fleetlockUrl: 'http://127.0.0.1:8080',
    });
  });

  test('etcd2 flags become ETCD_ environment; keel.etcd overrides key by key', () => {
    const c = modelOf(
      [
        'coreos:',
        '  etcd2:',
        '    name: node1',
        '    advertise-client-urls: http://$private_ipv4:2379',
        '    heartbeat_interval: 100',
        '    initial_cluster_state: new',
        'keel:',
        '  etcd:',
        '    initial-cluster-state: existing',
      ].join('\n'),
    );
    expect(c.etcd).toEqual({
      environment: {
        ETCD_NAME: 'node1',
        ETCD_ADVERTISE_CLIENT_URLS: 'http://$private_ipv4:2379',
        ETCD_HEARTBEAT_INTERVAL: '100',
        ETCD_INITIAL_CLUSTER_STATE: 'existing',
      },
    });
  });

  test('coreos.oem', () => {
    const c = modelOf('coreos:\n  oem:\n    id: qemu\n    name: QEMU\n    version-id: 1.0\n    home_url: https://qemu.org\n    bug_report_url: https://qemu.org/bugs');
    expect(c.oem).toEqual({ id: 'qemu', name: 'QEMU', version_id: '1.0', home_url: 'https://qemu.org', bug_report_url: 'https://qemu.org/bugs' });
  });

  test('containers with defaults and every field', () => {
    const c = modelOf(
      [
        'keel:',
        '  containers:',
        '    discovery_endpoints: [http://127.0.0.1:2379]',
        '    specs:',
        '      - name: db',
        '        image: localhost/busybox',
        '      - name: web',
        '        image: localhost/nginx:1',
        '        command: [nginx]',
        '        args: [-g, daemon off;]',
        '        environment: {PORT: 8080, DEBUG: true}',
        '        environment_files: [/etc/web.env]',
        '        ports: ["8080:80", "127.0.0.1:5353:53/udp", 443, {container_port: 9000, host_port: 9001, host_ip: 0.0.0.0}]',
        '        volumes: ["/srv/www:/usr/share/nginx/html:ro", {source: data, target: /data}]',
        '        restart: on-failure:5',
        '        restart_delay: 2s',
        '        restart_max_delay: 2m',
        '        health: {command: "wget -q -O- http://127.0.0.1/", interval: 10s, timeout: 2s, retries: 5}',
        '        memory: 512m',
        '        cpus: 1.5',
        '        pids: 200',
        '        after: [db]',
        '        requires: [db]',
        '        user: 1000:1000',
        '        read_only: true',
        '        network: host',
      ].join('\n'),
    );
    expect(c.containers.discoveryEndpoints).toEqual(['http://127.0.0.1:2379']);
    expect(c.containers.specs[0]).toEqual({
      name: 'db',
      image: 'localhost/busybox',
      args: [],
      environment: {},
      environmentFiles: [],
      ports: [],
      volumes: [],
      restart: 'on-failure',
      restartDelaySeconds: 1,
      restartMaxDelaySeconds: 60,
      after: [],
      requires: [],
      readOnlyRootfs: true,
      security: defaultSecurity,
    });
    expect(c.containers.specs[1]).toEqual({
      name: 'web',
      image: 'localhost/nginx:1',
      command: ['nginx'],
      args: ['-g', 'daemon off;'],
      environment: { PORT: '8080', DEBUG: 'true' },
      environmentFiles: ['/etc/web.env'],
      ports: [
        { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
        { hostIp: '127.0.0.1', hostPort: 5353, containerPort: 53, protocol: 'udp' },
        { hostPort: 443, containerPort: 443, protocol: 'tcp' },
        { hostIp: '0.0.0.0', hostPort: 9001, containerPort: 9000, protocol: 'tcp' },
      ],
      volumes: [
        { source: '/srv/www', target: '/usr/share/nginx/html', readOnly: true },
        { source: 'data', target: '/data', readOnly: false },
      ],
      restart: 'on-failure',
      maxRetries: 5,
      restartDelaySeconds: 2,
      restartMaxDelaySeconds: 120,
      health: { command: ['/bin/sh', '-c', 'wget -q -O- http://127.0.0.1/'], intervalSeconds: 10, timeoutSeconds: 2, retries: 5 },
      memory: '512M',
      cpus: 1.5,
      pids: 200,
      after: ['db'],
      requires: ['db'],
      user: '1000:1000',
      readOnlyRootfs: true,
      network: 'host',
      security: defaultSecurity,
    });
  });

  test('environment as a list of NAME=VALUE', () => {
    const c = modelOf('keel:\n  containers:\n    specs:\n      - name: a\n        image: x\n        environment: [A=1, "B=x=y", C=]');
    expect(c.containers.specs[0]!.environment).toEqual({ A: '1', B: 'x=y', C: '' });
  });

  test('restart: no (also YAML false) and always', () => {
    const c = modelOf('keel:\n  containers:\n    specs:\n      - {name: a, image: x, restart: "no"}\n      - {name: b, image: x, restart: false}\n      - {name: c, image: x, restart: always}');
    expect(c.containers.specs.map((s) => s.restart)).toEqual(['no', 'no', 'always']);
  });

  test('YAML merge keys and anchors are read', () => {
    const c = modelOf('x-unit: &u\n  enable: true\n  command: start\ncoreos:\n  units:\n    - <<: *u\n      name: a.service\n    - <<: *u\n      name: b.service\n      command: stop');
    expect(c.units).toEqual([
      { name: 'a.service', dropIns: [], enable: true, command: 'start' },
      { name: 'b.service', dropIns: [], enable: true, command: 'stop' },
    ]);
  });

  test('warnings alone keep the config', () => {
    const { config, problems } = validateCloudConfig(doc('hostnam: a\ncoreos:\n  fleet: {}\nwrite_files:\n  - path: /etc/x\n    permissions: 0600'));
    expect(problems.map((p) => p.severity)).toEqual(['warning', 'warning', 'warning']);
    expect(config?.writeFiles[0]?.permissions).toBe(0o600);
  });

  test('a BOM and CRLF line ends are accepted', () => {
    const { config, problems } = validateCloudConfig('\ufeff#cloud-config\r\nhostname: a\r\n');
    expect(problems).toEqual([]);
    expect(config?.hostname).toBe('a');
  });
});

describe('the shipped examples', () => {
  const dir = join(import.meta.dirname, '../../../cloud-config/examples');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

  test('there are examples', () => expect(files.length).toBeGreaterThanOrEqual(4));

  test.each(files)('%s validates without a single problem', (file) => {
    const { config, problems } = validateCloudConfig(readFileSync(join(dir, file), 'utf8'));
    expect(problems).toEqual([]);
    expect(config).toBeDefined();
  });
});
