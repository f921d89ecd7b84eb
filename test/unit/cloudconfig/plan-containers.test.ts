import { describe, expect, test } from 'vitest';
import { containerSpecYaml } from '../../../src/cloudconfig/plan-containers.js';
import { parseSpec } from '../../../src/containers/spec-schema.js';
import type { ContainerSpec } from '../../../src/containers/spec.js';
import { defaultSecurity } from '../../../src/containers/security-fields.js';

const minimal: ContainerSpec = {
  name: 'web',
  image: 'localhost/web:1',
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
};

const full: ContainerSpec = {
  name: 'api.v2',
  image: 'localhost/api:2.1',
  command: ['/app/server'],
  args: ['--listen', ':9000', 'with space', 'yes', '007'],
  environment: { MODE: 'prod', EMPTY: '', QUOTE: 'a "b" $c' },
  environmentFiles: ['/etc/api.env'],
  ports: [
    { hostIp: '127.0.0.1', hostPort: 9000, containerPort: 9000, protocol: 'tcp' },
    { hostIp: '::1', hostPort: 9443, containerPort: 443, protocol: 'udp' },
  ],
  volumes: [{ source: '/srv', target: '/data', readOnly: true }],
  restart: 'on-failure',
  maxRetries: 5,
  restartDelaySeconds: 0.5,
  restartMaxDelaySeconds: 30,
  health: { command: ['/bin/sh', '-c', 'true'], intervalSeconds: 10, timeoutSeconds: 2, retries: 4 },
  memory: '512M',
  cpus: 1.5,
  pids: 100,
  after: ['db'],
  requires: ['db'],
  user: '1000',
  readOnlyRootfs: false,
  network: 'host',
  security: { noNewPrivileges: false, capabilities: ['NET_ADMIN', 'SETUID'], userns: 'host', seccomp: 'unconfined', apparmor: 'unconfined', privileged: false },
};

describe('container spec files written by cloud-config', () => {
  test.each([
    ['minimal', minimal],
    ['every field', full],
  ])('%s: the supervisor reads back exactly the spec cloud-config gave', (_name, spec) => {
    const { spec: back, problems } = parseSpec(containerSpecYaml(spec), spec.name);
    expect(problems).toEqual([]);
    expect(back).toEqual(spec);
  });
});
