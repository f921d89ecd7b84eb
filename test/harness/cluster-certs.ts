/**
 * TLS for a cluster of test hosts: one CA, and per member one certificate for its segment
 * address, 127.0.0.1 and its name, with both server and client usage (a member serves clients
 * and peers, and keel's clients on the host present the member's own pair). Made with openssl
 * in a temp directory the caller removes. The texts are what each host's cloud-config writes.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface MemberCert {
  name: string;
  address: string;
  certPem: string;
  keyPem: string;
}

export interface ClusterCerts {
  dir: string;
  caFile: string;
  caPem: string;
  members: MemberCert[];
}

const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });

/** A CA and one certificate per `{ name, address }`, valid for a day. */
export function makeClusterCerts(members: { name: string; address: string }[]): ClusterCerts {
  const dir = mkdtempSync(join(tmpdir(), 'keel-cluster-certs-'));
  const f = (name: string) => join(dir, name);
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=keel cluster test CA', '-keyout', f('ca.key'), '-out', f('ca.pem'));
  const out: MemberCert[] = members.map(({ name, address }) => {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`));
    writeFileSync(f(`${name}.ext`), `subjectAltName=IP:${address},IP:127.0.0.1,DNS:${name},DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n`);
    ssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-out', f(`${name}.pem`), '-extfile', f(`${name}.ext`));
    return { name, address, certPem: readFileSync(f(`${name}.pem`), 'utf8'), keyPem: readFileSync(f(`${name}.key`), 'utf8') };
  });
  return { dir, caFile: f('ca.pem'), caPem: readFileSync(f('ca.pem'), 'utf8'), members: out };
}
