/**
 * The container spec file schema: one YAML document in /etc/keel/containers/NAME.yaml
 * becomes a ContainerSpec, or a list of located problems (`FILE:LINE:COL`), every one of
 * them, never just the first. Keys take `-` or `_` alike, as cloud-config does.
 *
 * The schema is data (`fields` below): each key names its reader, so the same table
 * drives validation, defaults and `keel containers render --help`'s field list.
 */
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import type { Problem } from '../problem.js';
import type { ContainerSpec, HealthCheck, PublishedPort, RestartPolicy, VolumeMount } from './spec.js';
import { parseDurationSeconds } from './duration.js';

/**
 * Defaults a spec gets for what it leaves out: the same as cloud-config's `keel.containers`
 * (src/cloudconfig/containers-schema.ts): restart on-failure (an exit 0 is a finished job),
 * 1 s doubling to 60 s, docker's health interval and retries.
 */
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

/** A YAML node with its place, handed to field readers. */
interface Located {
  node: Node | null | undefined;
  path: string;
}

/** Collects problems with line and column from node offsets. */
class Reporter {
  readonly problems: Problem[] = [];
  constructor(private readonly lines: LineCounter) {}
  at(where: Located, message: string, severity: Problem['severity'] = 'error'): void {
    const offset = where.node?.range?.[0];
    const pos = offset === undefined ? { line: 0, col: 0 } : this.lines.linePos(offset);
    this.problems.push({ severity, path: where.path, line: pos.line, column: pos.col, message });
  }
}

type Reader<T> = (where: Located, r: Reporter) => T | undefined;

function describe(node: Node | null | undefined): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return node.value === null ? 'null' : `${typeof node.value} ${JSON.stringify(node.value)}`;
  return 'an alias';
}

const str: Reader<string> = (w, r) => {
  if (isScalar(w.node) && typeof w.node.value === 'string' && w.node.value !== '') return w.node.value;
  if (isScalar(w.node) && typeof w.node.value === 'number') return String(w.node.value);
  r.at(w, `expected a non-empty string, found ${describe(w.node)}`);
  return undefined;
};

/** A word of a command line: YAML may read `8080` or `true` as non-strings; they mean the text. */
const word: Reader<string> = (w, r) => {
  if (isScalar(w.node) && (typeof w.node.value === 'number' || typeof w.node.value === 'boolean')) return String(w.node.value);
  return str(w, r);
};

const bool: Reader<boolean> = (w, r) => {
  if (isScalar(w.node) && typeof w.node.value === 'boolean') return w.node.value;
  r.at(w, `expected true or false, found ${describe(w.node)}`);
  return undefined;
};

function positiveNumber(integer: boolean): Reader<number> {
  return (w, r) => {
    const v = isScalar(w.node) ? w.node.value : undefined;
    if (typeof v === 'number' && v > 0 && (!integer || Number.isInteger(v))) return v;
    r.at(w, `expected a positive ${integer ? 'integer' : 'number'}, found ${describe(w.node)}`);
    return undefined;
  };
}

const duration: Reader<number> = (w, r) => {
  const seconds = isScalar(w.node) ? parseDurationSeconds(w.node.value) : undefined;
  if (seconds !== undefined) return seconds;
  r.at(w, `expected a duration such as 500ms, 10s or 1m30s, found ${describe(w.node)}`);
  return undefined;
};

function listOf<T>(item: Reader<T>): Reader<T[]> {
  return (w, r) => {
    if (!isSeq(w.node)) {
      r.at(w, `expected a list, found ${describe(w.node)}`);
      return undefined;
    }
    const out: T[] = [];
    w.node.items.forEach((n, i) => {
      const v = item({ node: n as Node, path: `${w.path}[${i}]` }, r);
      if (v !== undefined) out.push(v);
    });
    return out;
  };
}

/** A command: a list of words run as is, or one string run by /bin/sh -c. */
const commandLine: Reader<string[]> = (w, r) => {
  if (isScalar(w.node) && typeof w.node.value === 'string' && w.node.value.trim() !== '') return ['/bin/sh', '-c', w.node.value];
  const words = listOf(word)(w, r);
  if (isSeq(w.node) && w.node.items.length === 0) r.at(w, 'expected at least one word, found an empty list');
  return words && words.length > 0 ? words : undefined;
};

const containerName: Reader<string> = (w, r) => {
  const s = str(w, r);
  if (s !== undefined && !containerNamePattern.test(s)) {
    r.at(w, `expected a name of lowercase letters, digits, '.', '_' or '-' (at most 63), found ${JSON.stringify(s)}`);
    return undefined;
  }
  return s;
};

const environment: Reader<Record<string, string>> = (w, r) => {
  const env: Record<string, string> = {};
  const setPair = (key: string, value: string, at: Located) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) r.at(at, `expected a variable name of letters, digits and '_', found ${JSON.stringify(key)}`);
    else env[key] = value;
  };
  if (isMap(w.node)) {
    for (const pair of w.node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      const at = { node: pair.value as Node, path: `${w.path}.${key}` };
      const v = isScalar(pair.value) && pair.value.value !== null && typeof pair.value.value !== 'object' ? String(pair.value.value) : undefined;
      if (v === undefined) r.at(at, `expected a string, number or boolean, found ${describe(pair.value as Node)}`);
      else setPair(key, v, at);
    }
    return env;
  }
  if (isSeq(w.node)) {
    w.node.items.forEach((n, i) => {
      const at = { node: n as Node, path: `${w.path}[${i}]` };
      const s = str(at, r);
      if (s === undefined) return;
      const eq = s.indexOf('=');
      if (eq <= 0) r.at(at, `expected KEY=VALUE, found ${JSON.stringify(s)}`);
      else setPair(s.slice(0, eq), s.slice(eq + 1), at);
    });
    return env;
  }
  r.at(w, `expected a mapping of names to values or a list of KEY=VALUE, found ${describe(w.node)}`);
  return undefined;
};

function port(n: unknown): number | undefined {
  const v = Number(n);
  return Number.isInteger(v) && v >= 1 && v <= 65535 ? v : undefined;
}

/** `[[IP:]HOST:]CONTAINER[/tcp|udp]` (podman's form), or a mapping of host_port, container_port, protocol, host_ip. */
const publishedPort: Reader<PublishedPort> = (w, r) => {
  if (isMap(w.node)) {
    const m = readMap(w, r, {
      host_port: { read: positiveNumber(true) },
      container_port: { read: positiveNumber(true), required: true },
      protocol: { read: str },
      host_ip: { read: str },
    });
    const protocol = (m.protocol ?? 'tcp') as string;
    if (protocol !== 'tcp' && protocol !== 'udp') r.at(w, `expected protocol tcp or udp, found ${JSON.stringify(protocol)}`);
    const containerPort = port(m.container_port);
    if (containerPort === undefined) return undefined;
    const hostPort = m.host_port === undefined ? containerPort : port(m.host_port);
    if (hostPort === undefined) return undefined;
    return { ...(m.host_ip ? { hostIp: m.host_ip as string } : {}), hostPort, containerPort, protocol: protocol === 'udp' ? 'udp' : 'tcp' };
  }
  const text = isScalar(w.node) && typeof w.node.value === 'number' ? String(w.node.value) : str(w, r);
  if (text === undefined) return undefined;
  const match = /^(?:(?:(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):)?(\d+):)?(\d+)(?:\/(tcp|udp))?$/.exec(text);
  const containerPort = port(match?.[3]);
  const hostPort = match?.[2] === undefined ? containerPort : port(match[2]);
  if (!match || containerPort === undefined || hostPort === undefined) {
    r.at(w, `expected [[IP:]HOST_PORT:]CONTAINER_PORT[/tcp|udp] with ports 1-65535, found ${JSON.stringify(text)}`);
    return undefined;
  }
  return { ...(match[1] ? { hostIp: match[1].replace(/^\[|\]$/g, '') } : {}), hostPort, containerPort, protocol: match[4] === 'udp' ? 'udp' : 'tcp' };
};

/** `SOURCE:TARGET[:ro|rw]`, or a mapping of source, target, read_only. Targets must be absolute. */
const volumeMount: Reader<VolumeMount> = (w, r) => {
  let v: VolumeMount | undefined;
  if (isMap(w.node)) {
    const m = readMap(w, r, { source: { read: str, required: true }, target: { read: str, required: true }, read_only: { read: bool } });
    if (m.source !== undefined && m.target !== undefined) v = { source: m.source as string, target: m.target as string, readOnly: m.read_only === true };
  } else {
    const text = str(w, r);
    if (text === undefined) return undefined;
    const parts = text.split(':');
    const mode = parts.length === 3 ? parts[2] : 'rw';
    if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1] || (mode !== 'ro' && mode !== 'rw')) {
      r.at(w, `expected SOURCE:TARGET[:ro|rw], found ${JSON.stringify(text)}`);
      return undefined;
    }
    v = { source: parts[0], target: parts[1], readOnly: mode === 'ro' };
  }
  if (v && !v.target.startsWith('/')) {
    r.at(w, `expected an absolute target path, found ${JSON.stringify(v.target)}`);
    return undefined;
  }
  return v;
};

/** `no`, `always`, `unless-stopped`, `on-failure` or `on-failure:N` (give up after N restarts). */
const restartPolicy: Reader<{ restart: RestartPolicy; maxRetries?: number }> = (w, r) => {
  const s = isScalar(w.node) && typeof w.node.value === 'boolean' && !w.node.value ? 'no' : str(w, r);
  if (s === undefined) return undefined;
  const m = /^(no|always|unless-stopped|on-failure)(?::(\d+))?$/.exec(s);
  if (!m || (m[2] !== undefined && (m[1] !== 'on-failure' || Number(m[2]) < 1))) {
    r.at(w, `expected no, always, unless-stopped, on-failure or on-failure:N (N >= 1), found ${JSON.stringify(s)}`);
    return undefined;
  }
  return { restart: m[1] as RestartPolicy, ...(m[2] ? { maxRetries: Number(m[2]) } : {}) };
};

/** systemd memory sizes: bytes or K, M, G, T (powers of 1024). */
const memorySize: Reader<string> = (w, r) => {
  const s = isScalar(w.node) && typeof w.node.value === 'number' ? String(w.node.value) : str(w, r);
  if (s === undefined) return undefined;
  const m = /^(\d+)\s*([kKmMgGtT])?(i?[bB])?$/.exec(s);
  if (!m || Number(m[1]) === 0) {
    r.at(w, `expected a memory size such as 256M or 1G, found ${JSON.stringify(s)}`);
    return undefined;
  }
  return `${m[1]}${(m[2] ?? '').toUpperCase()}`;
};

interface FieldSpec {
  read: Reader<unknown>;
  required?: boolean;
}

/** Reads a mapping against a field table: unknown keys warn, missing required keys are errors. */
function readMap(w: Located, r: Reporter, fields: Record<string, FieldSpec>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!isMap(w.node)) {
    r.at(w, `expected a mapping, found ${describe(w.node)}`);
    return out;
  }
  const prefix = w.path ? `${w.path}.` : '';
  for (const pair of w.node.items) {
    const raw = isScalar(pair.key) ? String(pair.key.value) : '';
    const key = raw.replace(/-/g, '_');
    const field = fields[key];
    const at = { node: pair.value as Node, path: `${prefix}${raw}` };
    if (!field) {
      r.at({ node: pair.key as Node, path: `${prefix}${raw}` }, `unknown key; expected one of ${Object.keys(fields).join(', ')}; ignoring it`, 'warning');
      continue;
    }
    const v = field.read(at, r);
    if (v !== undefined) out[key] = v;
  }
  for (const [key, field] of Object.entries(fields)) {
    if (field.required && !w.node.items.some((p) => isScalar(p.key) && String(p.key.value).replace(/-/g, '_') === key))
      r.at(w, `missing required key '${key}'`);
  }
  return out;
}

const healthCheck: Reader<HealthCheck> = (w, r) => {
  const m = readMap(w, r, {
    command: { read: commandLine, required: true },
    interval: { read: duration },
    timeout: { read: duration },
    retries: { read: positiveNumber(true) },
  });
  if (!m.command) return undefined;
  return {
    command: m.command as string[],
    intervalSeconds: (m.interval as number | undefined) ?? specDefaults.healthIntervalSeconds,
    timeoutSeconds: (m.timeout as number | undefined) ?? specDefaults.healthTimeoutSeconds,
    retries: (m.retries as number | undefined) ?? specDefaults.healthRetries,
  };
};

const resources: Reader<{ memory?: string; cpus?: number; pids?: number }> = (w, r) =>
  readMap(w, r, { memory: { read: memorySize }, cpus: { read: positiveNumber(false) }, pids: { read: positiveNumber(true) } });

/** The top-level fields of a spec, in the order `render` documents them. */
export const specFields: Record<string, FieldSpec> = {
  name: { read: containerName, required: true },
  image: { read: str, required: true },
  command: { read: commandLine },
  args: { read: listOf(word) },
  environment: { read: environment },
  environment_files: { read: listOf(str) },
  ports: { read: listOf(publishedPort) },
  volumes: { read: listOf(volumeMount) },
  restart: { read: restartPolicy },
  restart_delay: { read: duration },
  restart_max_delay: { read: duration },
  health: { read: healthCheck },
  resources: { read: resources },
  // cloud-config's keel.containers puts the limits at the top level: a file may too.
  memory: { read: memorySize },
  cpus: { read: positiveNumber(false) },
  pids: { read: positiveNumber(true) },
  after: { read: listOf(containerName) },
  requires: { read: listOf(containerName) },
  user: { read: str },
  read_only: { read: bool },
  network: { read: str },
};

/** The result of reading one spec: the spec when there is no error, and every problem found. */
export interface SpecResult {
  spec: ContainerSpec | undefined;
  problems: Problem[];
}

/** Reads one spec document. `expectedName` (from the file name) must match `name:` when given. */
export function parseSpec(text: string, expectedName?: string): SpecResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const r = new Reporter(lines);
  for (const e of doc.errors) {
    const pos = lines.linePos(e.pos[0]);
    r.problems.push({ severity: 'error', path: '', line: pos.line, column: pos.col, message: `yaml: ${e.message.split('\n')[0]}` });
  }
  if (doc.errors.length > 0) return { spec: undefined, problems: r.problems };
  const root: Located = { node: doc.contents as Node | null, path: '' };
  if (doc.contents === null) {
    r.problems.push({ severity: 'error', path: '', line: 0, column: 0, message: 'empty document; expected a mapping with at least name and image' });
    return { spec: undefined, problems: r.problems };
  }
  const m = readMap(root, r, specFields);
  if (expectedName !== undefined && m.name !== undefined && m.name !== expectedName) {
    const nameNode = isMap(doc.contents) ? (doc.contents.items.find((p) => isScalar(p.key) && p.key.value === 'name')?.value as Node) : undefined;
    r.at({ node: nameNode, path: 'name' }, `expected ${JSON.stringify(expectedName)} to match the file name, found ${JSON.stringify(m.name)}`);
  }
  const delay = (m.restart_delay as number | undefined) ?? specDefaults.restartDelaySeconds;
  const maxDelay = (m.restart_max_delay as number | undefined) ?? Math.max(delay, specDefaults.restartMaxDelaySeconds);
  if (maxDelay < delay) r.at({ node: root.node, path: 'restart_max_delay' }, `expected restart_max_delay (${maxDelay}s) to be at least restart_delay (${delay}s)`);
  for (const key of ['after', 'requires'] as const) {
    if ((m[key] as string[] | undefined)?.includes(m.name as string)) r.at({ node: root.node, path: key }, `a container cannot depend on itself (${JSON.stringify(m.name)})`);
  }
  if (r.problems.some((p) => p.severity === 'error')) return { spec: undefined, problems: r.problems };
  const restart = (m.restart as { restart: RestartPolicy; maxRetries?: number } | undefined) ?? { restart: specDefaults.restart };
  const res = { ...(m.memory ? { memory: m.memory } : {}), ...(m.cpus ? { cpus: m.cpus } : {}), ...(m.pids ? { pids: m.pids } : {}), ...((m.resources ?? {}) as object) } as { memory?: string; cpus?: number; pids?: number };
  const spec: ContainerSpec = {
    name: m.name as string,
    image: m.image as string,
    ...(m.command ? { command: m.command as string[] } : {}),
    args: (m.args as string[] | undefined) ?? [],
    environment: (m.environment as Record<string, string> | undefined) ?? {},
    environmentFiles: (m.environment_files as string[] | undefined) ?? [],
    ports: (m.ports as PublishedPort[] | undefined) ?? [],
    volumes: (m.volumes as VolumeMount[] | undefined) ?? [],
    restart: restart.restart,
    ...(restart.maxRetries !== undefined ? { maxRetries: restart.maxRetries } : {}),
    restartDelaySeconds: delay,
    restartMaxDelaySeconds: maxDelay,
    ...(m.health ? { health: m.health as HealthCheck } : {}),
    ...(res.memory ? { memory: res.memory } : {}),
    ...(res.cpus ? { cpus: res.cpus } : {}),
    ...(res.pids ? { pids: res.pids } : {}),
    after: (m.after as string[] | undefined) ?? [],
    requires: (m.requires as string[] | undefined) ?? [],
    ...(m.user ? { user: m.user as string } : {}),
    readOnlyRootfs: m.read_only === true,
    ...(m.network ? { network: m.network as string } : {}),
  };
  return { spec, problems: r.problems };
}
