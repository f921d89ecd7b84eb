import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { DbusConnection } from '../../../src/host/dbus-connection.js';

// systemd's private-socket server (sd-bus, 252) leaves a message that arrives in the same read
// as BEGIN unread until more data comes: the client must send BEGIN with AUTH, never right
// before its first message. A stand-in server records what the client writes and when.
// The real thing: test/integration/cloudconfig-live.test.ts (apply at early boot).
let dir: string | undefined;
afterEach(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

test('on the private socket BEGIN goes with AUTH, and calls only follow the OK', async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'keel-dbus-hs-'));
  const socket = path.join(dir, 'run/systemd/private');
  await fs.mkdir(path.dirname(socket), { recursive: true });
  const reads: string[] = [];
  let sentOk = false;
  const server = net.createServer((peer) => {
    peer.on('data', (chunk) => {
      reads.push(`${sentOk ? 'after-ok' : 'before-ok'}:${chunk.toString('latin1')}`);
      if (!sentOk && chunk.includes('AUTH')) {
        sentOk = true;
        peer.write('OK 0123456789abcdef0123456789abcdef\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  try {
    const connection = await DbusConnection.open(`unix:path=${socket}`, 2000);
    const call = connection.call({ path: '/org/freedesktop/systemd1', interface: 'org.freedesktop.systemd1.Manager', member: 'Subscribe' }, 300).catch(() => undefined);
    await call;
    connection.close();
    const auth = reads.find((r) => r.includes('AUTH'));
    expect(auth).toMatch(/^before-ok:\0?AUTH EXTERNAL [0-9a-f]+\r\nBEGIN\r\n$/);
    const later = reads.filter((r) => r.startsWith('after-ok:'));
    expect(later.some((r) => r.includes('Subscribe'))).toBe(true);
    expect(later.some((r) => r.includes('BEGIN'))).toBe(false);
  } finally {
    server.close();
  }
});
