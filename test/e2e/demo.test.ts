// `make run`'s demo, booted as scripts/run-image.sh boots it: build/keel.img by direct kernel
// boot, cloud-config/examples/demo.yaml unchanged as user-data, the SSH key in the seed's
// meta-data, the guest's port 8080 forwarded, and no way out of the guest. The `web`
// container's image is the one the image build preloads, so the page must answer without a
// network. The same boot checks the image's container confinement: podman in the guest sees
// AppArmor and confines `web` with its default profile, and `--userns=auto` with crun maps
// a container's root (web's, by keel's default, and one run by hand) into user `containers`'
// subordinate range. Needs `make image` and root.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { repoRoot, startVm, type Vm } from '../harness/qemu.js';
import { testSshKey } from '../harness/ssh.js';
import { bootTimeoutMs, readyMarker, requireImage } from './image-boot.js';

const { cmdline } = requireImage();
const minute = 60_000;
const webGuestPort = 8080;
const demoImage = 'localhost/keel/demo-web:1';
/** The subordinate range images/customise.sh gives user `containers`. */
const containersRange = { start: 2147483647, count: 2147483648 };
let vm: Vm | undefined;

const sh = async (command: string) => (await vm!.ssh(command, { user: 'core', commandTimeoutMs: 2 * minute })).stdout.trim();

/** GETs the page until it answers 200, or fails with what the guest says about `web`. */
async function pageOnceServed(url: string, timeoutMs: number): Promise<string> {
  const end = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < end) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      const body = await r.text();
      if (r.status === 200) return body;
      last = `HTTP ${r.status}: ${body.slice(0, 200)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 3000));
  }
  const journal = await sh('sudo -n journalctl -b -u keel-supervisor -u keel-container-web -u keel-cloudinit --no-pager -o cat | tail -60').catch((e: Error) => e.message);
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms; last: ${last}\n${journal}`);
}

beforeAll(async () => {
  const instance = 'e2e-demo';
  vm = await startVm({
    name: 'demo',
    boot: { kind: 'direct', append: cmdline },
    disks: [{ image: 'build/keel.img', sizeMiB: 4096 }],
    seed: {
      userData: readFileSync(join(repoRoot, 'cloud-config/examples/demo.yaml'), 'utf8'),
      // As run-image.sh does: the key goes to the default user `core` through meta-data.
      metaData: `instance-id: ${instance}\nlocal-hostname: keel\npublic-keys:\n  - ${testSshKey().publicKey}\n`,
    },
    memoryMiB: 1024,
    net: { ssh: true, forwardGuestPorts: [webGuestPort], restrict: true },
  });
}, 5 * minute);

afterAll(async () => {
  await vm?.close();
});

test('make run: the demo page answers on the forwarded port, from the preloaded image', async () => {
  const started = Date.now();
  const ready = await vm!.waitFor(readyMarker, { timeoutMs: bootTimeoutMs });
  const page = await pageOnceServed(`http://127.0.0.1:${vm!.hostPort(webGuestPort)}/`, 15 * minute);
  process.stderr.write(`demo: ready at ${ready.match[3]} s uptime; page served ${((Date.now() - started) / 1000).toFixed(0)} s after the test began\n`);
  expect(page).toContain('keel demo: hello from web-01');
  expect(await sh('systemctl is-active keel-container-web.service')).toBe('active');
  expect(await sh('sudo -n journalctl -b -u keel-supervisor -o cat --no-pager')).toContain(`ensure image ${demoImage} (for web): loaded`);
}, 30 * minute);

test('podman in the guest confines containers with AppArmor', async () => {
  const info = JSON.parse(await sh('sudo -n podman info --format json')) as { host: { security: Record<string, unknown>; ociRuntime: { name: string } } };
  const aa = (await sh('systemctl show -p ExecMainStartTimestampMonotonic -p ExecMainExitTimestampMonotonic --value apparmor.service')).split('\n').map(Number);
  process.stderr.write(`demo: podman info host.security ${JSON.stringify(info.host.security)}, runtime ${info.host.ociRuntime.name}; apparmor.service took ${((aa[1]! - aa[0]!) / 1e6).toFixed(1)} s\n`);
  expect(await sh('cat /sys/module/apparmor/parameters/enabled')).toBe('Y');
  expect(info.host.security.apparmorEnabled).toBe(true);
  expect(await sh('sudo -n podman inspect --format "{{.AppArmorProfile}}" web')).toMatch(/^containers-default-/);
  const pid = await sh('sudo -n podman inspect --format "{{.State.Pid}}" web');
  expect(await sh(`sudo -n cat /proc/${pid}/attr/current`)).toMatch(/^containers-default-\S+ \(enforce\)$/);
});

/** `inside outside count` of a uid_map's first line, checked to lie in the containers range. */
function expectMappedIntoRange(uidMap: string): void {
  const [inside, outside, count] = uidMap.trim().split('\n')[0]!.trim().split(/\s+/).map(Number);
  expect(inside).toBe(0);
  expect(outside).toBeGreaterThanOrEqual(containersRange.start);
  expect(outside! + count!).toBeLessThanOrEqual(containersRange.start + containersRange.count);
}

test('--userns=auto with crun maps a container into the containers range', async () => {
  expect(await sh('grep ^containers: /etc/subuid /etc/subgid')).toBe(
    [`/etc/subuid:containers:${containersRange.start}:${containersRange.count}`, `/etc/subgid:containers:${containersRange.start}:${containersRange.count}`].join('\n'),
  );
  // keel's own container: userns=auto is its default.
  const webMap = await sh('sudo -n cat /proc/$(sudo -n podman inspect --format "{{.State.Pid}}" web)/uid_map');
  process.stderr.write(`demo: web's uid_map ${webMap}\n`);
  expectMappedIntoRange(webMap);
  const r = await vm!.ssh(`sudo -n podman run --rm --runtime crun --network none --userns=auto ${demoImage} sh -c 'cat /proc/self/uid_map; id -u'`, {
    user: 'core',
    commandTimeoutMs: 3 * minute,
    allowFailure: true,
  });
  process.stderr.write(`demo: podman run --userns=auto: exit ${r.exitCode}\n${r.stdout}${r.stderr}\n`);
  expect(r.exitCode).toBe(0);
  expectMappedIntoRange(r.stdout);
  expect(r.stdout.trim().split('\n').pop()).toBe('0');
});
