/**
 * Service discovery in etcd: each running container with published ports is announced
 * under `/keel/services/<name>/<machine-id>`, attached to one lease per supervisor, so
 * the entries vanish when the host dies (the lease expires) and are withdrawn when the
 * container stops. The key and value are pure; `Announcer` is the etcd edge.
 */
import type { Etcd3, Lease } from 'etcd3';
import { ConsecutiveBreaker, ExponentialBackoff, circuitBreaker, handleAll, retry } from 'cockatiel';
import { KeelError } from '../errors.js';
import { readEtcdTlsFiles } from '../lock/etcd-tls-files.js';
import type { ContainerSpec } from './spec.js';

export const servicesPrefix = '/keel/services/';

/** One announcement: where a container's published ports are reachable. */
export interface Endpoint {
  name: string;
  machineId: string;
  /** The address peers should use; a port's own host_ip wins when it has one. */
  address: string;
  ports: { hostPort: number; containerPort: number; protocol: 'tcp' | 'udp'; hostIp?: string }[];
}

/** The etcd key of a container on a machine. */
export function endpointKey(name: string, machineId: string): string {
  return `${servicesPrefix}${name}/${machineId}`;
}

/** The announcement of a running container, or undefined when it publishes no ports. */
export function endpointOf(spec: ContainerSpec, machineId: string, address: string): Endpoint | undefined {
  if (spec.ports.length === 0) return undefined;
  return { name: spec.name, machineId, address, ports: spec.ports.map((p) => ({ hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol, ...(p.hostIp ? { hostIp: p.hostIp } : {}) })) };
}

/** Parses an entry read back from etcd; undefined for anything that is not one of ours. */
export function parseEndpoint(value: string): Endpoint | undefined {
  try {
    const e = JSON.parse(value) as Endpoint;
    return typeof e.name === 'string' && typeof e.machineId === 'string' && Array.isArray(e.ports) ? e : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Loads etcd3 only when discovery is on: its gRPC stack costs start-up time the supervisor
 * should not pay without it. The bundle carries etcd3's .proto files (scripts/esbuild-etcd3-proto.mjs),
 * so this works from bin/keel.mjs and from the single executable alike.
 */
async function loadEtcd3(): Promise<typeof import('etcd3')> {
  try {
    return await import('etcd3');
  } catch (cause) {
    throw new KeelError('unavailable', `discovery: cannot load the etcd3 module (${(cause as Error).message}); run keel from its package directory to use discovery`, { cause });
  }
}

/**
 * An etcd client with deadlines and a short breaker (etcd3's defaults stall ~7 s after a leader
 * loss), over TLS with `tls`'s files (the CA, and the client pair a member with client_cert_auth asks for).
 */
export async function etcdClient(endpoints: string[], tls: { cafile?: string; certfile?: string; keyfile?: string } = {}): Promise<Etcd3> {
  const { Etcd3 } = await loadEtcd3();
  const { ca, cert, key } = readEtcdTlsFiles(tls);
  return new Etcd3({
    hosts: endpoints,
    ...(ca || cert ? { credentials: { rootCertificate: ca as Buffer, ...(key ? { privateKey: key } : {}), ...(cert ? { certChain: cert } : {}) } } : {}),
    dialTimeout: 2000,
    faultHandling: {
      host: () => circuitBreaker(handleAll, { halfOpenAfter: 500, breaker: new ConsecutiveBreaker(3) }),
      global: retry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 500 }) }),
    },
  });
}

function deadline<T>(what: string, p: Promise<T>, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new KeelError('unavailable', `etcd: ${what}: no answer in ${ms} ms; will retry`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Lists announcements, all or one service's. */
export async function listEndpoints(client: Etcd3, name?: string): Promise<Endpoint[]> {
  const all = await deadline('list', client.getAll().prefix(name ? `${servicesPrefix}${name}/` : servicesPrefix).strings());
  return Object.keys(all)
    .sort()
    .map((k) => parseEndpoint(all[k]!))
    .filter((e): e is Endpoint => e !== undefined);
}

/**
 * Keeps this machine's announcements in etcd. Calls never throw: etcd being away must not
 * stop containers; what could not be written is written again when the lease is renewed.
 */
export class Announcer {
  private lease: Lease | undefined;
  private readonly current = new Map<string, Endpoint>();
  private closed = false;

  constructor(
    private readonly client: Etcd3,
    private readonly ttlSeconds: number,
    private readonly warn: (message: string) => void,
  ) {}

  private leaseNow(): Lease {
    if (this.lease) return this.lease;
    const lease = this.client.lease(this.ttlSeconds, { autoKeepAlive: true });
    lease.on('lost', (error: Error) => {
      if (this.lease !== lease || this.closed) return;
      this.warn(`discovery: etcd lease lost (${error.message}); announcing again with a new lease`);
      this.lease = undefined;
      setTimeout(() => void this.republish(), 1000).unref();
    });
    this.lease = lease;
    return lease;
  }

  private async republish(): Promise<void> {
    for (const e of this.current.values()) await this.write(e);
  }

  private async write(e: Endpoint): Promise<void> {
    if (this.closed) return;
    try {
      await deadline(`announce ${e.name}`, this.leaseNow().put(endpointKey(e.name, e.machineId)).value(JSON.stringify(e)).exec());
    } catch (error) {
      this.warn(`discovery: cannot announce ${e.name}: ${(error as Error).message}`);
    }
  }

  /** Announces (or re-announces) a running container. */
  async announce(e: Endpoint): Promise<void> {
    this.current.set(e.name, e);
    await this.write(e);
  }

  /** Withdraws a container's announcement. */
  async withdraw(name: string): Promise<void> {
    const e = this.current.get(name);
    if (!e) return;
    this.current.delete(name);
    try {
      await deadline(`withdraw ${name}`, this.client.delete().key(endpointKey(name, e.machineId)).exec());
    } catch (error) {
      this.warn(`discovery: cannot withdraw ${name}: ${(error as Error).message}; its entry expires with the lease`);
    }
  }

  /** Names announced now. */
  announced(): string[] {
    return [...this.current.keys()].sort();
  }

  /** Revokes the lease (every entry goes at once) and closes the client. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.lease) await deadline('revoke', this.lease.revoke()).catch(() => undefined);
    this.client.close();
  }
}
