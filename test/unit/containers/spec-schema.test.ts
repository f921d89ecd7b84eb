// Spec files: defaults, both forms of every list item, and located problems (line:col and path).
import { describe, expect, test } from 'vitest';
import { parseSpec, specDefaults } from '../../../src/containers/spec-schema.js';
import { formatProblem } from '../../../src/problem.js';
import { formatSystemdSpan, parseDurationSeconds } from '../../../src/containers/duration.js';

const problemsOf = (text: string, name?: string) => parseSpec(text, name).problems.map((p) => formatProblem('f.yaml', p));

describe('parseSpec', () => {
  test('defaults', () => {
    expect(parseSpec('name: a\nimage: i\n').spec).toEqual({
      name: 'a', image: 'i', args: [], environment: {}, environmentFiles: [], ports: [], volumes: [],
      restart: specDefaults.restart, restartDelaySeconds: 1, restartMaxDelaySeconds: 60, after: [], requires: [], readOnlyRootfs: false,
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
    ['dashes and underscores', 'read-only: true\nrestart_delay: 250ms\nrestart-max-delay: 2s', { readOnlyRootfs: true, restartDelaySeconds: 0.25, restartMaxDelaySeconds: 2 }],
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
    ['bad memory', 'name: a\nimage: i\nresources: {memory: lots}\n', ['f.yaml:3:21: error: resources.memory: expected a memory size such as 512M or 2G, found "lots"']],
    ['unknown key warns', 'name: a\nimage: i\nimgae: j\n', ['f.yaml:3:1: warning: imgae: unknown key "imgae"; did you mean "image"? ignoring it']],
    ['self dependency', 'name: a\nimage: i\nrequires: [a]\n', ['f.yaml:3:11: error: requires: a container cannot depend on itself ("a")']],
    ['yaml syntax', 'name: a\nimage: [i\n', ['f.yaml:3:1: error: yaml syntax: flow sequence in block collection must be sufficiently indented and end with a ]']],
    ['not a mapping', '- a\n', ['f.yaml:1:1: error: expected a mapping, found a list']],
    ['empty', '', ['f.yaml:0:0: error: empty document; expected a mapping with at least name and image']],
  ])('%s', (_t, text, expected) => expect(problemsOf(text)).toEqual(expected));

  test('the name must match the file name', () => {
    expect(problemsOf('name: b\nimage: i\n', 'a')).toEqual(['f.yaml:1:7: error: name: expected "a" to match the file name, found "b"']);
  });

  test('every problem is reported, not just the first', () => {
    expect(problemsOf('name: a\nimage: i\nports: [x]\nrestart: maybe\nuser: []\n')).toHaveLength(3);
  });
});

describe('durations', () => {
  test.each<[unknown, number | undefined]>([[5, 5], ['10', 10], ['500ms', 0.5], ['1m30s', 90], ['2h', 7200], ['1min', 60], ['x', undefined], ['10 s', undefined], [-1, undefined]])(
    '%j → %s', (text, seconds) => expect(parseDurationSeconds(text)).toBe(seconds));
  test.each([[1, '1s'], [0.2, '200ms'], [60, '60s'], [1.5, '1500ms']])('%s s prints as %s', (s, text) => expect(formatSystemdSpan(s)).toBe(text));
});
