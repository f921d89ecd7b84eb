/** A free TCP port on 127.0.0.1, for qemu's forwards and etcd's listeners. */
import { createServer } from 'node:net';

/**
 * Binds port 0, reads the port the kernel chose and releases it. Another process may take
 * it before the caller binds it: qemu's launch retries on a bind failure for that reason.
 */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}
