// A throwaway CA, an etcd server certificate (for 127.0.0.1 and localhost) and a client
// certificate, made with openssl for the TLS tests; deleted with the directory.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EtcdTls } from '../../harness/etcd.js';

export function makeTestCerts(clientCommonName = 'root'): EtcdTls & { dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'keel-certs-'));
  const f = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=keel test CA', '-keyout', f('ca.key'), '-out', f('ca.pem'));
  const issue = (name: string, cn: string, ext: string) => {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`));
    execFileSync('sh', ['-c', `printf '%s\\n' "${ext}" > ${f(`${name}.ext`)}`]);
    ssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-out', f(`${name}.pem`), '-extfile', f(`${name}.ext`));
  };
  issue('server', 'etcd', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth');
  issue('client', clientCommonName, 'extendedKeyUsage=clientAuth');
  return { dir, caFile: f('ca.pem'), serverCertFile: f('server.pem'), serverKeyFile: f('server.key'), clientCertFile: f('client.pem'), clientKeyFile: f('client.key'), clientCertAuth: true };
}

/** Another client certificate, named `commonName`, from the CA of `makeTestCerts` in `dir`. */
export function issueClientCert(dir: string, commonName: string, file = commonName): { certFile: string; keyFile: string } {
  const f = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${commonName}`, '-keyout', f(`${file}.key`), '-out', f(`${file}.csr`));
  execFileSync('sh', ['-c', `printf '%s\\n' 'extendedKeyUsage=clientAuth' > ${f(`${file}.ext`)}`]);
  ssl('x509', '-req', '-in', f(`${file}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-out', f(`${file}.pem`), '-extfile', f(`${file}.ext`));
  return { certFile: f(`${file}.pem`), keyFile: f(`${file}.key`) };
}

/** A self-signed CA of its own with one client certificate: trusted by nobody. */
export function makeStrangerCert(commonName: string): { dir: string; certFile: string; keyFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'keel-stranger-'));
  const f = (name: string) => join(dir, name);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${commonName}`, '-keyout', f('c.key'), '-out', f('c.pem')], { stdio: ['ignore', 'ignore', 'pipe'] });
  return { dir, certFile: f('c.pem'), keyFile: f('c.key') };
}
