/**
 * A container spec, described once: the keys, types, defaults, allowed values and messages of
 * one YAML document in /etc/keel/containers/NAME.yaml (`parseSpec`, read by the supervisor)
 * and of each entry of cloud-config's `keel.containers.specs` (src/cloudconfig/containers-schema.ts
 * embeds `containerSpecSchema`). Built with the located-schema toolkit (src/schema), so every
 * problem is located (`FILE:LINE:COL`), every one of them is reported, and keys take `-` or `_`.
 *
 * Defaults: `restart: on-failure` — a container that exits 0 finished its job and restarting it
 * would loop; one that crashes is restarted. First restart after 1 s, the delay doubling per
 * failure up to 60 s (Docker starts at 100 ms, which hammers a failing registry or a crashing
 * service). Health checks: every 30 s, 5 s timeout, 3 retries (Docker's interval and retries).
 * Confinement (security-fields.ts) and a read-only root are on unless a spec opens them.
 *
 * Text that ends up in a unit or on podman's command line (image, user, network, paths) may
 * not hold control characters; command words and environment values may, and the unit model
 * (src/systemd/unit-file.ts) escapes them.
 */
import { isMap, isScalar, type Node } from 'yaml';
import { longestTimerMs } from '../duration.js';
import type { Problem } from '../problem.js';
import { absolutePath, duration, parseYaml, s, text, walkNode, type CustomSchema } from '../schema/index.js';
import type { ContainerSpec, HealthCheck, PublishedPort, RestartPolicy, VolumeMount } from './spec.js';
import { parseImageReference } from './image-reference.js';
import { securityFields, securityOf } from './security-fields.js';

/** Defaults a spec gets for what it leaves out (see the file comment for why). */
export const specDefaults = {
  restart: 'on-failure' as RestartPolicy,
  restartDelaySeconds: 1,
  restartMaxDelaySeconds: 60,
  healthIntervalSeconds: 30,
  healthTimeoutSeconds: 5,
  healthRetries: 3,
};

/** Container names become unit names and podman names: keep them to a safe alphabet. */
export const containerNamePattern = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

const controlCharacter = /[\x00-\x1f\x7f]/;
function noControl(v: string): string | undefined {
  return controlCharacter.test(v) ? `expected text without control characters, found ${JSON.stringify(v)}` : undefined;
}

/** Text that must not be empty, read as text even when YAML typed it as a number (`user: 1000`). */
const nonEmptyText = s.string({ coerce: 'silent', minLength: 1, expected: 'a non-empty string', check: noControl });
const plainText = s.string({ minLength: 1, expected: 'a non-empty string', check: noControl });
const hostPath = s.string({ expected: 'an absolute path', check: (p) => absolutePath.check?.(p) ?? noControl(p) });

/** An image reference by the OCI distribution grammar (image-reference.ts). */
const imageReference = s.custom({
  expected: 'an image reference such as docker.io/library/nginx:1.25',
  jsonSchema: { type: 'string', pattern: '^[^\\s@]+(@[A-Za-z][A-Za-z0-9+._-]*:[0-9a-fA-F]{32,})?$' },
  read({ value }, r) {
    const text = typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
    const result = parseImageReference(text);
    if (result.ok) return text;
    return r.error(`expected an image reference [REGISTRY[:PORT]/]PATH[:TAG][@DIGEST] such as docker.io/library/nginx:1.25, found ${JSON.stringify(value)}: ${result.reason}; refusing this spec`);
  },
});

const containerName = s.string({ pattern: containerNamePattern, patternText: 'a container name of lowercase letters, digits, ., _ and - (at most 63)' });

/** A command: one string (run by /bin/sh -c) or a list of words. */
const commandWords = s.union([s.string({ pattern: /\S/, patternText: 'a command string' }), s.list(text, { minItems: 1 })], { expected: 'a command string or a list of words' });

function toArgv(v: unknown): string[] {
  return typeof v === 'string' ? ['/bin/sh', '-c', v] : (v as string[]);
}

const portNumber = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;
const portText = 'a port mapping such as "8080:80", "127.0.0.1:8080:80/udp" or 80';

/** `[[IP:]HOST:]CONTAINER[/tcp|udp]` as text or a bare container port number. */
const portString: CustomSchema = s.custom({
  expected: portText,
  jsonSchema: { anyOf: [{ type: 'string' }, { type: 'integer', minimum: 1, maximum: 65535 }] },
  read({ value }, r) {
    const t = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
    const m = /^(?:(?:(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):)?(\d+):)?(\d+)(?:\/(tcp|udp))?$/.exec(t);
    const container = Number(m?.[3]);
    const host = m?.[2] === undefined ? container : Number(m[2]);
    if (!m || !portNumber(container) || !portNumber(host)) return r.error(`expected ${portText} with ports 1-65535, found ${JSON.stringify(value)}`);
    return { ...(m[1] ? { hostIp: m[1].replace(/^\[|\]$/g, '') } : {}), hostPort: host, containerPort: container, protocol: m[4] === 'udp' ? 'udp' : 'tcp' } satisfies PublishedPort;
  },
});

const portObject = s.object(
  {
    host_ip: plainText,
    host_port: s.integer({ minimum: 1, maximum: 65535 }),
    container_port: s.required(s.integer({ minimum: 1, maximum: 65535 })),
    protocol: s.enum(['tcp', 'udp']),
  },
  {
    refine: (v): PublishedPort | undefined =>
      v.container_port === undefined
        ? undefined
        : {
            ...(v.host_ip !== undefined ? { hostIp: v.host_ip as string } : {}),
            hostPort: (v.host_port as number | undefined) ?? (v.container_port as number),
            containerPort: v.container_port as number,
            protocol: (v.protocol as 'tcp' | 'udp' | undefined) ?? 'tcp',
          },
  },
);

const volumeText = 'a volume such as "/srv/data:/data" or "/etc/x:/x:ro"';
const volumeString = s.custom({
  expected: volumeText,
  jsonSchema: { type: 'string', pattern: '^[^:]+:/[^:]*(:(ro|rw))?$' },
  read({ value }, r) {
    const parts = typeof value === 'string' && !controlCharacter.test(value) ? value.split(':') : [];
    const mode = parts[2] ?? 'rw';
    if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]?.startsWith('/') || (mode !== 'ro' && mode !== 'rw'))
      return r.error(`expected ${volumeText} (absolute target), found ${JSON.stringify(value)}`);
    return { source: parts[0], target: parts[1], readOnly: mode === 'ro' } satisfies VolumeMount;
  },
});

const volumeObject = s.object(
  { source: s.required(plainText), target: s.required(hostPath), read_only: s.boolean() },
  {
    refine: (v): VolumeMount | undefined =>
      v.source === undefined || v.target === undefined ? undefined : { source: v.source as string, target: v.target as string, readOnly: v.read_only === true },
  },
);

const restartText = 'no, always, on-failure, on-failure:N or unless-stopped';
const restartPolicy = s.custom({
  expected: restartText,
  jsonSchema: { anyOf: [{ enum: ['no', 'always', 'on-failure', 'unless-stopped', false] }, { type: 'string', pattern: '^on-failure:[1-9][0-9]*$' }] },
  read({ value }, r) {
    const t = value === false ? 'no' : typeof value === 'string' ? value : '';
    const m = /^(no|always|unless-stopped|on-failure)(?::([1-9]\d*))?$/.exec(t);
    if (!m || (m[2] !== undefined && m[1] !== 'on-failure')) return r.error(`expected ${restartText}, found ${JSON.stringify(value)}`);
    return { restart: m[1] as RestartPolicy, ...(m[2] ? { maxRetries: Number(m[2]) } : {}) };
  },
});

/** systemd memory sizes: a positive number of bytes or of K, M, G, T (powers of 1024). */
const memory = s.string({ coerce: 'silent', pattern: /^[1-9]\d*[KMGT]?$/i, patternText: 'a memory size such as 512M or 2G' });

/** Bytes of a systemd memory size (`512M`). */
function memoryBytes(size: string): number {
  const m = /^(\d+)([KMGT]?)$/i.exec(size);
  return m ? Number(m[1]) * 1024 ** ' KMGT'.indexOf((m[2] || ' ').toUpperCase()) : NaN;
}

/** A limit under this is almost always a number of MiB written without its unit. */
const smallestSensibleMemory = 4 * 1024 * 1024;

/** Resource limits, at the top level or under `resources:`. */
const limits = { memory, cpus: s.number({ minimum: 0.01 }), pids: s.integer({ minimum: 1 }) };

/** A wait the supervisor times itself: a timer past node's range would fire at once (src/duration.ts). */
const waitDuration = duration({ minMs: 100, maxMs: longestTimerMs });

const health = s.object(
  {
    command: s.required(commandWords),
    interval: waitDuration,
    timeout: waitDuration,
    retries: s.integer({ minimum: 1 }),
  },
  {
    refine: (v): HealthCheck | undefined =>
      v.command === undefined
        ? undefined
        : {
            command: toArgv(v.command),
            intervalSeconds: v.interval === undefined ? specDefaults.healthIntervalSeconds : (v.interval as number) / 1000,
            timeoutSeconds: v.timeout === undefined ? specDefaults.healthTimeoutSeconds : (v.timeout as number) / 1000,
            retries: (v.retries as number | undefined) ?? specDefaults.healthRetries,
          },
  },
);

const envName = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `- NAME=VALUE` entries, as the spec files also accept; read into the same mapping. */
const envList = s.list(
  s.custom({
    expected: 'NAME=VALUE',
    jsonSchema: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*=' },
    read({ value }, r) {
      const m = typeof value === 'string' ? /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(value) : null;
      return m ? [m[1]!, m[2]!] : r.error(`expected NAME=VALUE with a variable name of letters, digits and _, found ${JSON.stringify(value)}`);
    },
  }),
);

/** The environment as a mapping, from either form. */
function environmentOf(v: unknown): Record<string, string> {
  if (v === undefined) return {};
  return Array.isArray(v) ? Object.fromEntries(v as [string, string][]) : (v as Record<string, string>);
}

/** One container spec: a spec file's whole document, or one entry of cloud-config's `keel.containers.specs`. */
export const containerSpecSchema = s.object(
  {
    name: s.required(containerName),
    image: s.required(imageReference),
    command: commandWords,
    args: s.list(text),
    environment: s.union([s.map(text, { normalizeKeys: false, keyPattern: envName, keyPatternText: 'an environment variable name' }), envList], {
      expected: 'a mapping of variables to values or a list of NAME=VALUE',
    }),
    environment_files: s.list(hostPath),
    ports: s.list(s.union([portString, portObject], { expected: portText + ' or a mapping' })),
    volumes: s.list(s.union([volumeString, volumeObject], { expected: volumeText + ' or a mapping' })),
    restart: restartPolicy,
    restart_delay: waitDuration,
    restart_max_delay: waitDuration,
    health,
    // Spec files have long put the limits under `resources:`; cloud-config put them at the top. Both read.
    resources: s.object(limits),
    ...limits,
    after: s.list(containerName),
    requires: s.list(containerName),
    user: nonEmptyText,
    read_only: s.boolean({ description: 'read-only root with tmpfs on /tmp and /run (default true)' }),
    network: plainText,
    ...securityFields,
  },
  {
    refine: (v, ctx): ContainerSpec | undefined => {
      const delay = v.restart_delay === undefined ? specDefaults.restartDelaySeconds : (v.restart_delay as number) / 1000;
      const maxDelay = v.restart_max_delay === undefined ? Math.max(delay, specDefaults.restartMaxDelaySeconds) : (v.restart_max_delay as number) / 1000;
      if (maxDelay < delay) ctx.error('restart_max_delay', `expected restart_max_delay (${maxDelay}s) to be at least restart_delay (${delay}s)`);
      for (const key of ['after', 'requires'] as const)
        if ((v[key] as string[] | undefined)?.includes(v.name as string)) ctx.error(key, `a container cannot depend on itself (${JSON.stringify(v.name)})`);
      const res = { ...v, ...((v.resources ?? {}) as object) } as { memory?: string; cpus?: number; pids?: number };
      if (res.memory !== undefined && memoryBytes(res.memory) < smallestSensibleMemory) {
        const at = (v.resources as { memory?: string } | undefined)?.memory !== undefined ? ['resources', 'memory'] : ['memory'];
        const digits = /^\d+/.exec(res.memory)?.[0] ?? res.memory;
        ctx.at(at, 'warning', `memory ${res.memory} is ${memoryBytes(res.memory)} bytes, under 4 MiB: the container would be killed as it starts; did you mean ${digits}M?`);
      }
      const security = securityOf(v, ctx);
      if (v.name === undefined || v.image === undefined) return undefined;
      const restart = (v.restart as { restart: RestartPolicy; maxRetries?: number } | undefined) ?? { restart: specDefaults.restart };
      return {
        name: v.name as string,
        image: v.image as string,
        ...(v.command !== undefined ? { command: toArgv(v.command) } : {}),
        args: (v.args as string[] | undefined) ?? [],
        environment: environmentOf(v.environment),
        environmentFiles: (v.environment_files as string[] | undefined) ?? [],
        ports: (v.ports as PublishedPort[] | undefined) ?? [],
        volumes: (v.volumes as VolumeMount[] | undefined) ?? [],
        restart: restart.restart,
        ...(restart.maxRetries !== undefined ? { maxRetries: restart.maxRetries } : {}),
        restartDelaySeconds: delay,
        restartMaxDelaySeconds: maxDelay,
        ...(v.health !== undefined ? { health: v.health as HealthCheck } : {}),
        ...(res.memory !== undefined ? { memory: res.memory.toUpperCase() } : {}),
        ...(res.cpus !== undefined ? { cpus: res.cpus } : {}),
        ...(res.pids !== undefined ? { pids: res.pids } : {}),
        after: (v.after as string[] | undefined) ?? [],
        requires: (v.requires as string[] | undefined) ?? [],
        ...(v.user !== undefined ? { user: v.user as string } : {}),
        readOnlyRootfs: v.read_only !== false,
        ...(v.network !== undefined ? { network: v.network as string } : {}),
        security,
      };
    },
  },
);

/** The result of reading one spec file: the spec when there is no error, and every problem found. */
export interface SpecResult {
  spec: ContainerSpec | undefined;
  problems: Problem[];
}

/** Reads one spec document. `expectedName` (from the file name) must match `name:` when given. */
export function parseSpec(yamlText: string, expectedName?: string): SpecResult {
  const parsed = parseYaml(yamlText);
  if (!parsed.doc) return { spec: undefined, problems: parsed.problems };
  const root = parsed.doc.contents as Node | null;
  if (root === null || (isScalar(root) && root.value === null))
    return { spec: undefined, problems: [...parsed.problems, { severity: 'error', path: '', line: 0, column: 0, message: 'empty document; expected a mapping with at least name and image' }] };
  const walked = walkNode<ContainerSpec>(containerSpecSchema, root, { doc: parsed.doc, lines: parsed.lines, text: yamlText });
  const problems = [...parsed.problems, ...walked.problems];
  const nameNode = isMap(root) ? root.get('name', true) : undefined;
  const name = isScalar(nameNode) ? nameNode.value : undefined;
  // An invalid name was already reported by the schema; only a valid one is compared.
  if (expectedName !== undefined && typeof name === 'string' && containerNamePattern.test(name) && name !== expectedName) {
    const pos = parsed.lines.linePos(nameNode!.range?.[0] ?? 0);
    problems.push({ severity: 'error', path: 'name', line: pos.line, column: pos.col, message: `expected ${JSON.stringify(expectedName)} to match the file name, found ${JSON.stringify(name)}` });
  }
  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  return { spec: problems.some((p) => p.severity === 'error') ? undefined : walked.value, problems };
}
