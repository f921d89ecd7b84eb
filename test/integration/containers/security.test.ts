// Container confinement against real systemd (PID 1 in namespaces), podman with runc and the
// busybox image: what a default spec's container may do, and that each switch opens when a
// spec turns it off. Each container prints its probes to the journal, then sleeps.
import { execa } from 'execa';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { repoRoot } from '../../harness/rootfs.js';
import { capabilityMask, keptCapabilities } from '../../../src/containers/capabilities.js';
import { startGuest, testImage, type Guest } from './guest.js';

let g: Guest;
const timings: string[] = [];
beforeAll(async () => {
  const started = performance.now();
  g = await startGuest('security');
  timings.push(`guest and supervisor up: ${Math.round(performance.now() - started)} ms`);
});
afterAll(async () => {
  await g?.stop();
  console.log(`container security timings:\n  ${timings.join('\n  ')}`);
});

/** The probes, one `name=value` or raw block each, in order. */
const probeScript = [
  'grep -E "^(NoNewPrivs|CapEff|CapBnd|Seccomp|Uid):" /proc/self/status',
  'echo "uid_map=$(cat /proc/self/uid_map | tr -s " " | sed "s/^ //")"',
  'if touch /probe 2>/dev/null; then echo root-write=ok; else echo root-write=refused; fi',
  'if touch /tmp/probe /run/probe; then echo tmpfs-write=ok; else echo tmpfs-write=refused; fi',
  // A new user namespace gives its first process every capability inside it, so for a user
  // other than root only seccomp stands between it and sethostname in its own UTS namespace.
  // (Root maps uid 0 with -r, which since Linux 5.12 needs CAP_SETFCAP, dropped by default.)
  'echo "sethostname=$(unshare -Uru hostname probe 2>&1 && echo ok)"',
  'printf "%s|" "$MULTI" | od -c | head -n 2 | sed "s/^/od /"',
  'echo probes-done',
  'exec sleep 3600',
].join('; ');

async function probes(name: string, yaml: string): Promise<string> {
  const started = performance.now();
  await g.writeSpec(name, `name: ${name}\nimage: ${testImage}\ncommand: ${JSON.stringify(probeScript)}\nenvironment:\n  MULTI: "first line\\r\\nsecond\\rthird"\n${yaml}`);
  const output = await g.until(`${name} probes in the journal`, async () => {
    const j = (await g.sys.exec(['journalctl', '-u', `keel-container-${name}.service`, '-o', 'cat', '--no-pager'])).stdout;
    return j.includes('probes-done') && j;
  });
  timings.push(`${name}: spec written → probes done: ${Math.round(performance.now() - started)} ms`);
  return output;
}

function field(output: string, key: string): string {
  const m = new RegExp(`^${key}[:=]\\s*(.*)$`, 'm').exec(output);
  if (!m) throw new Error(`no ${key} in the container's output:\n${output}`);
  return m[1]!.trim();
}

/** The host uid (the guest shares the host's user namespace) of the container's main process. */
async function hostUidOf(name: string): Promise<number> {
  const pid = (await g.podman(['inspect', '--format', '{{.State.Pid}}', name])).stdout.trim();
  const status = (await g.sys.exec(['cat', `/proc/${pid}/status`])).stdout;
  return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
}

describe('container confinement', () => {
  test('a default spec: no new privileges, seven capabilities, read-only root, its own uids, seccomp', async () => {
    const out = await probes('locked', '');
    expect(field(out, 'NoNewPrivs')).toBe('1');
    expect(field(out, 'CapEff')).toBe(capabilityMask(keptCapabilities([], [])));
    expect(field(out, 'CapEff')).toBe('00000000000004eb');
    expect(field(out, 'Seccomp')).toBe('2');
    expect(field(out, 'root-write')).toBe('refused');
    expect(field(out, 'tmpfs-write')).toBe('ok');
    // uid 0 inside maps to an id from keel's subordinate range, not to root.
    const [inside, outside] = field(out, 'uid_map').split(' ').map(Number);
    expect(inside).toBe(0);
    expect(outside).toBeGreaterThanOrEqual(2147483647);
    expect(await hostUidOf('locked')).toBe(outside);
    expect(field(out, 'sethostname')).toBe('unshare: write error: Operation not permitted');
    // The unit escapes CR and LF in the environment value and systemd gives podman the exact bytes;
    // podman 4.3 then reads `--env NAME=VALUE` line by line and drops the CR before an LF (a lone CR stays).
    const execStart = (await g.sys.exec(['systemctl', 'show', '-p', 'ExecStart', 'keel-container-locked.service'])).stdout;
    expect(execStart).toContain('--env MULTI=first line\r\nsecond\rthird ');
    const bytes = [...out.matchAll(/^od \d+(.*)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/)).join('');
    expect(bytes).toBe('firstline\\nsecond\\rthird|'); // od -c prints the space as blank, lost in the split
  });

  test('every switch opened: the container gets podman\'s privileges back', async () => {
    // apparmor: unconfined too: podman accepts it on this kernel, which has no AppArmor.
    const out = await probes('opened', 'no_new_privileges: false\ncap_add: [ALL]\nread_only: false\nuserns: host\nseccomp: unconfined\napparmor: unconfined\n');
    expect(field(out, 'NoNewPrivs')).toBe('0');
    expect(field(out, 'CapEff')).toBe(field(out, 'CapBnd'));
    expect(BigInt(`0x${field(out, 'CapEff')}`) & 0x200000n).toBe(0x200000n); // CAP_SYS_ADMIN
    expect(field(out, 'Seccomp')).toBe('0');
    expect(field(out, 'root-write')).toBe('ok');
    expect(field(out, 'uid_map')).toBe('0 0 4294967295');
    expect(await hostUidOf('opened')).toBe(0);
    expect(field(out, 'sethostname')).toBe('ok');
  });

  test('seccomp: a call podman\'s profile denies fails with EPERM, and succeeds once the spec says seccomp: unconfined', async () => {
    const denied = await probes('seccomp', 'user: "1000"\n');
    expect(field(denied, 'Seccomp')).toBe('2');
    expect(field(denied, 'sethostname')).toBe('hostname: sethostname: Operation not permitted');
    const allowed = await probes('noseccomp', 'user: "1000"\nseccomp: unconfined\n');
    expect(field(allowed, 'Seccomp')).toBe('0');
    expect(field(allowed, 'NoNewPrivs')).toBe('1');
    expect(field(allowed, 'sethostname')).toBe('ok');
  });

  test('privileged: keel containers apply warns at its line', async () => {
    await g.writeSpec('tools', `name: tools\nimage: ${testImage}\ncommand: [sleep, '3600']\nprivileged: true\n`);
    const r = await execa(join(repoRoot, 'bin/keel'), ['containers', 'apply', '--dry-run', '--root', g.sys.root], { reject: false });
    expect(r.stderr).toContain('/etc/keel/containers/tools.yaml:4:13: warning: privileged: this container gets every capability and host device');
    await g.removeSpec('tools');
  });
});
