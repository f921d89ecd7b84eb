/**
 * TLS for test etcd members: the files a test made (see test/integration/lock/test-certs.ts)
 * turned into etcd's flags, etcdctl's flags and the options of a health request.
 */
import { readFileSync } from 'node:fs';

/** TLS files for the members (server cert for clients and peers) and for etcdctl/the client. */
export interface EtcdTls {
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** Require client certificates (`--client-cert-auth`). */
  clientCertAuth: boolean;
}

/** etcd's flags: the server certificate serves clients and peers; peers must present one. */
export function memberTlsArgs(tls: EtcdTls | undefined): string[] {
  if (!tls) return [];
  const args = [`--cert-file=${tls.serverCertFile}`, `--key-file=${tls.serverKeyFile}`, `--trusted-ca-file=${tls.caFile}`];
  args.push(`--peer-cert-file=${tls.serverCertFile}`, `--peer-key-file=${tls.serverKeyFile}`, `--peer-trusted-ca-file=${tls.caFile}`, '--peer-client-cert-auth');
  if (tls.clientCertAuth) args.push('--client-cert-auth');
  return args;
}

/** etcdctl's flags for the client certificate. */
export function etcdctlTlsFlags(tls: EtcdTls | undefined): string[] {
  return tls ? [`--cacert=${tls.caFile}`, `--cert=${tls.clientCertFile}`, `--key=${tls.clientKeyFile}`] : [];
}

/** The CA and client certificate for an https request to a member (none without TLS). */
export function clientTlsOptions(tls: EtcdTls | undefined): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  return tls ? { ca: readFileSync(tls.caFile), cert: readFileSync(tls.clientCertFile), key: readFileSync(tls.clientKeyFile) } : {};
}
