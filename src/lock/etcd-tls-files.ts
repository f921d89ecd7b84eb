/**
 * The TLS files of an etcd connection, read once and checked: a file that cannot be read
 * and a certificate without its key (or the reverse) are 'invalid-input' naming the key.
 * Shared by the gRPC store and the JSON gateway, which must not load etcd3 to get them.
 */
import { readFileSync } from 'node:fs';
import { KeelError } from '../errors.js';

export interface EtcdTlsFiles {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export function readEtcdTlsFiles(connection: { cafile?: string; certfile?: string; keyfile?: string }): EtcdTlsFiles {
  const read = (file: string | undefined, what: string) => {
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new KeelError('invalid-input', `${what}: cannot read ${file} (${(error as Error).message}); cannot connect to etcd`, { cause: error });
    }
  };
  const [ca, cert, key] = [read(connection.cafile, 'cafile'), read(connection.certfile, 'certfile'), read(connection.keyfile, 'keyfile')];
  if (Boolean(cert) !== Boolean(key)) throw new KeelError('invalid-input', 'certfile and keyfile: expected both or neither, found only one; cannot connect to etcd');
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}
