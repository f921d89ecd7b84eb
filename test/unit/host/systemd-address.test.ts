import { expect, test } from 'vitest';
import { defaultSystemdAddress } from '../../../src/host/systemd-bus.js';

test.each([
  ['both sockets: the system bus', ['/run/dbus/system_bus_socket', '/run/systemd/private'], 'unix:path=/run/dbus/system_bus_socket'],
  ['early boot, no dbus-daemon yet: the private socket', ['/run/systemd/private'], 'unix:path=/run/systemd/private'],
  ['neither: the system bus, so the error names it', [], 'unix:path=/run/dbus/system_bus_socket'],
])('%s', (_, present, expected) => {
  expect(defaultSystemdAddress((p) => present.includes(p))).toBe(expected);
});
