/** A free TCP port on 127.0.0.1, for qemu's forwards and etcd's listeners. */
import { createServer } from 'node:net';

/** Ports this process has handed out: the kernel may choose a released port again at once. */
const handedOut = new Set<number>();

/**
 * Binds port 0, reads the port the kernel chose and releases it, never the same port twice
 * in one process (two members of one etcd cluster were once given the same peer port).
 * Another process may take it before the caller binds it: qemu's launch retries on a bind
 * failure for that reason.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await kernelPort();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('no free port: the kernel kept choosing ports already handed out');
}

function kernelPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}
