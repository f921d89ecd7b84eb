// dbus-next's connection and bus modules, imported directly so a peer-to-peer connection
// (systemd's private socket, which has no bus daemon to answer Hello) can be built.
declare module 'dbus-next/lib/connection.js' {
  import type { EventEmitter } from 'node:events';
  interface Connection extends EventEmitter {
    stream: NodeJS.WritableStream & { writable: boolean; destroy(): void };
    message(msg: unknown): void;
  }
  function createConnection(opts: { busAddress: string; authMethods?: string[] }): Connection;
  export default createConnection;
}
declare module 'dbus-next/lib/bus.js' {
  import type { MessageBus } from 'dbus-next';
  const MessageBusClass: new (connection: unknown) => MessageBus;
  export default MessageBusClass;
}
