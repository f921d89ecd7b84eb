// Spec files: defaults, both forms of every list item, and located problems (line:col and path).
import { describe, expect, test } from 'vitest';
import { parseSpec, specDefaults } from '../../../src/containers/spec-schema.js';
import { formatProblem } from '../../../src/problem.js';

const problemsOf = (text: string, name?: string) => parseSpec(text, name).problems.map((p) => formatProblem('f.yaml', p));

describe('parseSpec', () => {
  test('defaults', () => {
    expect(parseSpec('name: a\nimage: i\n').spec).toEqual({
      name: 'a', image: 'i', args: [], environment: {}, environmentFiles: [], ports: [], volumes: [],
      restart: specDefaults.restart, restartDelaySeconds: 1, restartMaxDelaySeconds: 60, after: [], requires: [], readOnlyRootfs: true,
      security: {
        noNewPrivileges: true,
        capabilities: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'KILL', 'NET_BIND_SERVICE', 'SETGID', 'SETUID'],
        userns: 'auto',
        seccomp: 'default',
        apparmor: 'default',
        privileged: false,
      },
    });
  });

  test.each<[string, string, unknown]>([
    ['restart on-failure:3', 'restart: on-failure:3', { restart: 'on-failure', maxRetries: 3 }],
    ['restart no (YAML 1.2 string)', 'restart: no', { restart: 'no' }],
    ['shell command', 'command: echo hi', { command: ['/bin/sh', '-c', 'echo hi'] }],
    ['port forms', 'ports: [80, "8080:80", "127.0.0.1:53:53/udp", {container_port: 9, host_port: 10, protocol: udp}]', {
      ports: [
        { hostPort: 80, containerPort: 80, protocol: 'tcp' },
        { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
        { hostIp: '127.0.0.1', hostPort: 53, containerPort: 53, protocol: 'udp' },
        { hostPort: 10, containerPort: 9, protocol: 'udp' },
      ],
    }],
    ['volume forms', 'volumes: ["/a:/b:ro", {source: c, target: /d}]', { volumes: [{ source: '/a', target: '/b', readOnly: true }, { source: 'c', target: '/d', readOnly: false }] }],
    ['environment as a list', 'environment: [A=1, B=x=y]', { environment: { A: '1', B: 'x=y' } }],
    ['resources', 'resources: {memory: 1g, cpus: 0.25, pids: 10}', { memory: '1G', cpus: 0.25, pids: 10 }],
    ['limits at the top level, as cloud-config has them', 'memory: 512M\ncpus: 2\npids: 64', { memory: '512M', cpus: 2, pids: 64 }],
    ['health defaults', 'health: {command: [true]}', { health: { command: ['true'], intervalSeconds: 30, timeoutSeconds: 5, retries: 3 } }],
    ['dashes and underscores', 'read-only: false\nrestart_delay: 250ms\nrestart-max-delay: 2s', { readOnlyRootfs: false, restartDelaySeconds: 0.25, restartMaxDelaySeconds: 2 }],
    ['every switch opened', 'no_new_privileges: false\ncap_add: [all]\nuserns: host\nseccomp: unconfined\napparmor: unconfined', { security: { noNewPrivileges: false, capabilities: ['ALL'], userns: 'host', seccomp: 'unconfined', apparmor: 'unconfined', privileged: false } }],
    ['capabilities dropped and added, any spelling', 'cap_drop: [ALL]\ncap_add: [net_admin, CAP_SYS_TIME]', { security: { capabilities: ['NET_ADMIN', 'SYS_TIME'] } }],
    ['one capability dropped', 'cap_drop: [CAP_KILL]', { security: { capabilities: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'NET_BIND_SERVICE', 'SETGID', 'SETUID'] } }],
    ['all added less one', 'cap_add: [ALL]\ncap_drop: [SYS_ADMIN]', { security: { capabilities: expect.not.arrayContaining(['SYS_ADMIN', 'ALL']) } }],
    ['a seccomp profile of its own', 'seccomp: /etc/keel/seccomp.json', { security: { seccomp: '/etc/keel/seccomp.json' } }],
    ['memory of exactly 4 MiB is fine', 'memory: 4M', { memory: '4M' }],
  ])('%s', (_t, extra, expected) => {
    const { spec, problems } = parseSpec(`name: a\nimage: i\n${extra}\n`);
    expect(problems).toEqual([]);
    expect(spec).toMatchObject(expected as object);
  });

  test.each<[string, string, string[]]>([
    ['missing required keys', 'command: [x]\n', ['f.yaml:1:1: error: missing required key "name"', 'f.yaml:1:1: error: missing required key "image"']],
    ['bad name', 'name: Web Server\nimage: i\n', ['f.yaml:1:7: error: name: expected a container name of lowercase letters, digits, ., _ and - (at most 63), found "Web Server"']],
    ['bad restart', 'name: a\nimage: i\nrestart: sometimes\n', ['f.yaml:3:10: error: restart: expected no, always, on-failure, on-failure:N or unless-stopped, found "sometimes"']],
    ['bad port in a list', 'name: a\nimage: i\nports:\n  - 80\n  - "99999:1"\n', ['f.yaml:5:5: error: ports[1]: expected a port mapping such as "8080:80", "127.0.0.1:8080:80/udp" or 80 with ports 1-65535, found "99999:1"']],
    ['relative volume target', 'name: a\nimage: i\nvolumes: ["/a:b"]\n', ['f.yaml:3:11: error: volumes[0]: expected a volume such as "/srv/data:/data" or "/etc/x:/x:ro" (absolute target), found "/a:b"']],
    ['bad duration', 'name: a\nimage: i\nhealth:\n  command: [x]\n  interval: soon\n', ['f.yaml:5:13: error: health.interval: expected a duration such as 90s, 10m or 1h30m, found "soon"']],
    // A timer past node's range (2^31-1 ms) fires after 1 ms: a 30d interval would probe without pause.
    ['health and restart durations past a timer\'s range', 'name: a\nimage: i\nrestart_delay: 30d\nhealth:\n  command: [x]\n  interval: 25d\n', [
      'f.yaml:3:16: error: restart_delay: expected a duration of at most 24d, found "30d"',
      'f.yaml:6:13: error: health.interval: expected a duration of at most 24d, found "25d"',
    ]],
    ['bad memory', 'name: a\nimage: i\nresources: {memory: lots}\n', ['f.yaml:3:21: error: resources.memory: expected a memory size such as 512M or 2G, found "lots"']],
    ['unknown key warns', 'name: a\nimage: i\nimgae: j\n', ['f.yaml:3:1: warning: imgae: unknown key "imgae"; did you mean "image"? ignoring it']],
    ['self dependency', 'name: a\nimage: i\nrequires: [a]\n', ['f.yaml:3:11: error: requires: a container cannot depend on itself ("a")']],
    ['yaml syntax', 'name: a\nimage: [i\n', ['f.yaml:3:1: error: yaml syntax: flow sequence in block collection must be sufficiently indented and end with a ]']],
    ['not a mapping', '- a\n', ['f.yaml:1:1: error: expected a mapping, found a list']],
    ['empty', '', ['f.yaml:0:0: error: empty document; expected a mapping with at least name and image']],
    ['unit-file injection through the image', 'name: a\nimage: "nginx:1.25\\n[Service]\\nExecStartPre=/bin/sh -c \'touch /pwned\'"\n', [
      'f.yaml:2:8: error: image: expected an image reference [REGISTRY[:PORT]/]PATH[:TAG][@DIGEST] such as docker.io/library/nginx:1.25, found "nginx:1.25\\n[Service]\\nExecStartPre=/bin/sh -c \'touch /pwned\'": it contains a control character; refusing this spec',
    ]],
    ['upper-case image path', 'name: a\nimage: localhost/MyApp\n', ['f.yaml:2:8: error: image: expected an image reference [REGISTRY[:PORT]/]PATH[:TAG][@DIGEST] such as docker.io/library/nginx:1.25, found "localhost/MyApp": the path component "MyApp" has upper-case letters; repository paths are lowercase; refusing this spec']],
    ['memory in bytes by mistake', 'name: a\nimage: i\nresources: {memory: 512}\n', ['f.yaml:3:21: warning: resources.memory: memory 512 is 512 bytes, under 4 MiB: the container would be killed as it starts; did you mean 512M?']],
    ['memory at the top level, in KiB', 'name: a\nimage: i\nmemory: 64k\n', ['f.yaml:3:9: warning: memory: memory 64k is 65536 bytes, under 4 MiB: the container would be killed as it starts; did you mean 64M?']],
    ['privileged warns at its line', 'name: a\nimage: i\nprivileged: true\n', ['f.yaml:3:13: warning: privileged: this container gets every capability and host device, without seccomp, AppArmor or a user namespace: root in it is root on the host; keep privileged: true only for a container that must manage the host']],
    ['unknown capability', 'name: a\nimage: i\ncap_add: [SYS_GOD]\n', ['f.yaml:3:11: error: cap_add[0]: expected a capability name such as NET_ADMIN, CAP_SYS_TIME or ALL, found "SYS_GOD"']],
    ['added and dropped', 'name: a\nimage: i\ncap_add: [NET_ADMIN]\ncap_drop: [net_admin]\n', ['f.yaml:3:10: error: cap_add: NET_ADMIN is both added and dropped; expected each capability in one list']],
    ['bad userns', 'name: a\nimage: i\nuserns: keep-id\n', ['f.yaml:3:9: error: userns: expected one of auto or host, found "keep-id"']],
    ['relative seccomp profile', 'name: a\nimage: i\nseccomp: my.json\n', ['f.yaml:3:10: error: seccomp: expected an absolute path, found the relative path "my.json"']],
    ['control characters in user, network and volumes', 'name: a\nimage: i\nuser: "root\\n"\nnetwork: "host\\r"\nvolumes: ["/a\\n:/b", {source: "x\\ty", target: /c}]\n', [
      'f.yaml:3:7: error: user: expected text without control characters, found "root\\n"',
      'f.yaml:4:10: error: network: expected text without control characters, found "host\\r"',
      'f.yaml:5:11: error: volumes[0]: expected a volume such as "/srv/data:/data" or "/etc/x:/x:ro" (absolute target), found "/a\\n:/b"',
      'f.yaml:5:31: error: volumes[1].source: expected text without control characters, found "x\\ty"',
    ]],
  ])('%s', (_t, text, expected) => expect(problemsOf(text)).toEqual(expected));

  test('the name must match the file name', () => {
    expect(problemsOf('name: b\nimage: i\n', 'a')).toEqual(['f.yaml:1:7: error: name: expected "a" to match the file name, found "b"']);
  });

  test('every problem is reported, not just the first', () => {
    expect(problemsOf('name: a\nimage: i\nports: [x]\nrestart: maybe\nuser: []\n')).toHaveLength(3);
  });
});
