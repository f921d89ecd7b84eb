/**
 * How keel reaches etcd: endpoints, TLS files and user, turned into npm `etcd3` options
 * with a deadline on every unary call, a short circuit breaker per member and a quick
 * retry, built with the cockatiel that etcd3 itself resolves (`npm ls cockatiel`: 3.x,
 * functional API): with etcd3's defaults a leader kill stalls a write ~7 s (breaker open
 * 5 s); with these it costs one election (~0.35 s with the test timings). And etcd's
 * errors as KeelError. The lock's store, the fleet's store and `keel lock setup-auth` use it.
 */
import { isRecoverableError, type IOptions } from 'etcd3';
import { ConsecutiveBreaker, ExponentialBackoff, circuitBreaker, handleWhen, retry, type IBackoff } from 'cockatiel';
import { KeelError } from '../errors.js';
import { refusedRequestMessage } from './etcd-refusals.js';
import { readEtcdTlsFiles } from './etcd-tls-files.js';

/**
 * A call to a member that lost its leader blocks until the election ends or the deadline
 * passes; 700 ms keeps a leader change well under a second while staying far above a
 * loaded machine's normal round trip (p99 ~100 ms measured with load 12 on 2 cores).
 * Every lock operation is idempotent, so a call retried after a late success is harmless.
 */
export const defaultCallTimeoutMs = 700;

/** How to reach etcd: endpoints plus optional TLS files and user/password. */
export interface EtcdConnection {
  endpoints: string[];
  cafile?: string;
  certfile?: string;
  keyfile?: string;
  username?: string;
  password?: string;
  /** Deadline of each unary call; a timed-out call is retried by the caller. Default 700 ms. */
  callTimeoutMs?: number;
}

/** Builds etcd3 options from a connection: deadlines, breaker, retry, keepalive, TLS, auth. */
export function etcdOptions(connection: EtcdConnection): IOptions {
  if (connection.endpoints.length === 0) throw new KeelError('invalid-input', 'endpoints: expected at least one etcd endpoint (http://host:2379), found none');
  const callTimeoutMs = connection.callTimeoutMs ?? defaultCallTimeoutMs;
  const { ca, cert, key } = readEtcdTlsFiles(connection);
  const options: IOptions = {
    hosts: connection.endpoints,
    dialTimeout: callTimeoutMs,
    // Streams (watches) have no deadline; every unary call does.
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: new Date(Date.now() + callTimeoutMs) }),
    // etcd refuses pings more often than every 5 s (--grpc-keepalive-min-time) and closes the
    // connection: ping every 10 s, and rely on the call deadlines to notice a dead member sooner.
    grpcOptions: { 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 2000, 'grpc.initial_reconnect_backoff_ms': 50, 'grpc.max_reconnect_backoff_ms': 500 },
    faultHandling: {
      // A dead member is skipped after 2 failures and tried again after 300 ms, not 5 s.
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 300, breaker: new ConsecutiveBreaker(2) }),
      global: retry(handleWhen(isRecoverableError), { maxAttempts: 4, backoff: new ExponentialBackoff({ initialDelay: 25, maxDelay: 250 }) }),
      // etcd3's type says IBackoff but it calls `.next()` first, as on its own default factory.
      watchBackoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 1000 }) as unknown as IBackoff<unknown>,
    },
  };
  if (ca || cert) options.credentials = { rootCertificate: ca as Buffer, ...(key ? { privateKey: key } : {}), ...(cert ? { certChain: cert } : {}) };
  if (connection.username) options.auth = { username: connection.username, password: connection.password ?? '', callOptions: () => ({ deadline: new Date(Date.now() + callTimeoutMs) }) };
  return options;
}

/** etcd errors as KeelError: refused credentials and refused requests cannot be fixed by retrying; everything else can. */
export function etcdError(error: unknown, doing: string): KeelError {
  if (error instanceof KeelError) return error;
  const e = error as Error;
  const name = e?.constructor?.name ?? '';
  if (/Authentication|PermissionDenied|UserNotFound|RoleNotGranted|Unauthenticated/.test(name) || /authentication failed|permission denied|user name not found|user name is empty|auth(entication)? is not enabled/i.test(e?.message ?? ''))
    return new KeelError('invalid-input', `etcd refused ${doing}: ${e.message}; check --user/--password or the client certificate`, { cause: error });
  if (refusedRequestMessage.test(e?.message ?? ''))
    return new KeelError('internal', `etcd refused ${doing}: ${e.message}`, { cause: error });
  return new KeelError('unavailable', `etcd did not answer ${doing}: ${e?.message ?? String(error)}; retrying may help`, { cause: error });
}
