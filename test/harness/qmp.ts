/**
 * One-shot QMP (qemu's JSON control protocol) commands over the VM's unix socket: ACPI
 * power button, hard reset, quit. A connection per command keeps this stateless.
 */
import { connect } from 'node:net';

/** Sends `execute` (after the capabilities handshake) and resolves with its `return`. */
export function qmpCommand(socketPath: string, execute: string, args?: Record<string, unknown>, timeoutMs = 10_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let buffer = '';
    let stage: 'greeting' | 'capabilities' | 'command' = 'greeting';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`qmp ${execute}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (error: Error | undefined, value?: unknown) => {
      clearTimeout(timer);
      sock.destroy();
      if (error) reject(error);
      else resolve(value);
    };
    sock.on('error', (e) => done(new Error(`qmp ${execute}: ${e.message}`, { cause: e })));
    sock.on('data', (data) => {
      buffer += data.toString('utf8');
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buffer.slice(0, nl)) as { QMP?: unknown; return?: unknown; error?: { desc: string }; event?: string };
        buffer = buffer.slice(nl + 1);
        if (msg.event) continue;
        if (msg.error) return done(new Error(`qmp ${execute}: ${msg.error.desc}`));
        if (stage === 'greeting' && msg.QMP) {
          stage = 'capabilities';
          sock.write(JSON.stringify({ execute: 'qmp_capabilities' }) + '\n');
        } else if (stage === 'capabilities' && 'return' in msg) {
          stage = 'command';
          sock.write(JSON.stringify({ execute, ...(args ? { arguments: args } : {}) }) + '\n');
        } else if (stage === 'command' && 'return' in msg) {
          return done(undefined, msg.return);
        }
      }
    });
    // `quit` may close the socket before answering: that is success too.
    sock.on('close', () => (execute === 'quit' && stage === 'command' ? done(undefined) : done(new Error(`qmp ${execute}: socket closed`))));
  });
}
