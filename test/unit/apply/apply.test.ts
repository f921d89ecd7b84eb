import { readFile, readdir, readlink, stat, writeFile, mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { applyFailed, applyPlan } from '../../../src/apply/apply.js';
import { planCloudConfig } from '../../../src/cloudconfig/plan.js';
import { readInstanceRecord } from '../../../src/apply/instance-record.js';
import { RootFs } from '../../../src/host/root-fs.js';
import { config, file, input, unit, user } from '../cloudconfig/plan-fixtures.js';
import { RecordingUnits } from './recording-units.js';
import { hostFor, makeRoot } from './temp-root.js';

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ root, cleanup } = await makeRoot()));
afterEach(async () => cleanup());

const service = (wantedBy = 'multi-user.target') => `[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=${wantedBy}\n`;

describe('live apply with a recording unit manager', () => {
  test('unit calls: one daemon-reload, then commands in list order, then runcmd; bootcmd first', async () => {
    const units = new RecordingUnits();
    const plan = planCloudConfig(
      input(
        config({
          bootcmd: [['echo', 'boot']],
          runcmd: ['echo one', ['touch', '/tmp/x y']],
          units: [
            unit('b.service', { content: service(), enable: true, command: 'start' }),
            unit('eth0.network', { content: '[Match]\nName=eth0\n' }),
            unit('a.service', { dropIns: [{ name: '10.conf', content: '[Service]\n' }], command: 'restart' }),
          ],
        }),
      ),
    );
    const report = await applyPlan(plan, hostFor(root, units));
    expect(applyFailed(report)).toBe(false);
    expect(units.calls).toEqual([
      'transient keel-bootcmd-run1-1.service echo boot',
      'daemon-reload',
      'restart systemd-networkd.service',
      'start b.service',
      'restart a.service',
      'transient keel-runcmd-run1-1.service /bin/sh -c echo one',
      'transient keel-runcmd-run1-2.service touch /tmp/x y',
    ]);
    expect(await readlink(join(root, 'etc/systemd/system/multi-user.target.wants/b.service'))).toBe('/etc/systemd/system/b.service');
    expect(await readFile(join(root, 'etc/systemd/system/a.service.d/10.conf'), 'utf8')).toBe('[Service]\n');
  });

  test('a failing unit command is reported with the unit and job result; the rest still runs and stays applied', async () => {
    const units = new RecordingUnits({ 'bad.service': 'failed' });
    const plan = planCloudConfig(
      input(config({ writeFiles: [file('/etc/motd', 'hi\n')], units: [unit('bad.service', { content: service(), command: 'start' }), unit('good.service', { content: service(), command: 'start' })], runcmd: ['true'] })),
    );
    const report = await applyPlan(plan, hostFor(root, units));
    expect(applyFailed(report)).toBe(true);
    expect(report.failures).toEqual(["unit bad.service: start job ended with result 'failed', expected 'done'"]);
    expect(report.stoppedAt).toBeUndefined();
    expect(units.calls).toEqual(['daemon-reload', 'start bad.service', 'start good.service', 'transient keel-runcmd-run1-1.service /bin/sh -c true']);
    expect(await readFile(join(root, 'etc/motd'), 'utf8')).toBe('hi\n');
    const record = await readInstanceRecord(new RootFs(root), 'iid-test');
    expect(record?.failures).toEqual(report.failures);
  });

  test('a failing runcmd line is reported and the next line still runs', async () => {
    const units = new RecordingUnits({ '/bin/sh -c false': 'failed' });
    const report = await applyPlan(planCloudConfig(input(config({ runcmd: ['false', 'true'] }))), hostFor(root, units));
    expect(report.failures).toEqual(["runcmd[0] (unit keel-runcmd-run1-1.service) ended with result 'failed', expected 'done'"]);
    expect(units.calls).toHaveLength(2);
  });

  test('a #! script is written 0700 and run as a transient unit', async () => {
    const units = new RecordingUnits();
    const plan = planCloudConfig({ ...input(config()), userData: { kind: 'script', text: '#!/bin/sh\necho hi\n' } });
    await applyPlan(plan, hostFor(root, units));
    expect(units.calls).toEqual(['transient keel-script-iid-test-run1.service /var/lib/keel/scripts/iid-test.sh']);
    expect((await stat(join(root, 'var/lib/keel/scripts/iid-test.sh'))).mode & 0o777).toBe(0o700);
  });
});

describe('filesystem apply', () => {
  test('users: uid, private group, groups, home from skel, keys 0600 in a 0700 .ssh, sudoers 0440, locked password', async () => {
    const plan = planCloudConfig(
      input(config({ sshAuthorizedKeys: ['ssh-ed25519 AAAA core@x'], users: [user('alice', { groups: ['sudo', 'ops'], sshAuthorizedKeys: ['ssh-ed25519 BBBB alice@x'], sudo: ['ALL=(ALL) ALL'], passwd: '$6$s$h', lockPasswd: true })] }), { live: false }),
    );
    const report = await applyPlan(plan, hostFor(root));
    expect(report.stoppedAt).toBeUndefined();
    const passwd = await readFile(join(root, 'etc/passwd'), 'utf8');
    // `ops` was made first and took gid 1000, so alice's private group takes the next one (as useradd does).
    expect(passwd).toBe('root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1001::/home/alice:/bin/sh\ncore:x:1001:1002:keel admin:/home/core:/bin/sh\n');
    expect(await readFile(join(root, 'etc/group'), 'utf8')).toBe('root:x:0:\nsudo:x:27:alice,core\nshadow:x:42:\nops:x:1000:alice\nalice:x:1001:\ncore:x:1002:\n');
    expect((await readFile(join(root, 'etc/shadow'), 'utf8')).split('\n')[1]).toBe('alice:!$6$s$h:19844:0:99999:7:::');
    const st = await stat(join(root, 'etc/shadow'));
    expect([st.mode & 0o777, st.gid]).toEqual([0o640, 0]);
    const keys = await stat(join(root, 'home/alice/.ssh/authorized_keys'));
    expect([keys.mode & 0o777, keys.uid]).toEqual([0o600, 1000]);
    expect((await stat(join(root, 'home/alice/.ssh'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(root, 'home/alice'))).mode & 0o777).toBe(0o700);
    expect(await readFile(join(root, 'home/alice/.profile'), 'utf8')).toBe('# profile\n');
    expect(await readFile(join(root, 'home/core/.ssh/authorized_keys'), 'utf8')).toBe('ssh-ed25519 AAAA core@x\n');
    expect((await stat(join(root, 'etc/sudoers.d/90-keel-core'))).mode & 0o777).toBe(0o440);
    expect(await readFile(join(root, 'etc/sudoers.d/90-keel-core'), 'utf8')).toContain('core ALL=(ALL) NOPASSWD:ALL');
  });

  test('an existing user keeps its ids and gets keys added once (re-apply is idempotent)', async () => {
    await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\ncore:x:500:500::/home/core:/bin/bash\n');
    await mkdir(join(root, 'home/core/.ssh'), { recursive: true });
    await writeFile(join(root, 'home/core/.ssh/authorized_keys'), 'old-key\n');
    const plan = planCloudConfig(input(config({ sshAuthorizedKeys: ['new-key'] }), { live: false }));
    await applyPlan(plan, hostFor(root));
    await applyPlan(plan, hostFor(root));
    expect(await readFile(join(root, 'etc/passwd'), 'utf8')).toContain('core:x:500:500::/home/core:/bin/bash\n');
    expect(await readFile(join(root, 'home/core/.ssh/authorized_keys'), 'utf8')).toBe('old-key\nnew-key\n');
  });

  test('owner resolves through users created earlier in the same plan; append appends', async () => {
    await mkdir(join(root, 'etc/app'), { recursive: true });
    await writeFile(join(root, 'etc/app/log'), 'first\n');
    const plan = planCloudConfig(
      input(config({ users: [user('svc', { system: true, noCreateHome: true })], writeFiles: [file('/etc/app/conf', 'x', { owner: 'svc:svc', permissions: 0o640 }), file('/etc/app/log', 'second\n', { append: true })] }), { live: false }),
    );
    await applyPlan(plan, hostFor(root));
    const st = await stat(join(root, 'etc/app/conf'));
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([999, 999, 0o640]);
    expect(await readFile(join(root, 'etc/app/log'), 'utf8')).toBe('first\nsecond\n');
    await expect(stat(join(root, 'home/svc'))).rejects.toThrow();
  });

  test('an unknown owner is found before anything is written: the apply names it and writes nothing; no record', async () => {
    const plan = planCloudConfig(input(config({ writeFiles: [file('/etc/a', 'A'), file('/etc/b', 'B', { owner: 'nobody-here' }), file('/etc/c', 'C')] }), { live: false }));
    const report = await applyPlan(plan, hostFor(root));
    expect(report.stoppedAt?.index).toBe(1);
    expect(report.stoppedAt?.detail).toMatch(/no user nobody-here.*nothing was written/);
    const etc = await readdir(join(root, 'etc')).catch(() => [] as string[]);
    expect(etc.filter((n) => /^[abc]$|keel/.test(n))).toEqual([]);
    expect(await readInstanceRecord(new RootFs(root), 'iid-test')).toBeUndefined();
  });

  test('enable follows Also= and finds units in /lib; mask links to /dev/null; runtime under /run', async () => {
    await mkdir(join(root, 'lib/systemd/system'), { recursive: true });
    await writeFile(join(root, 'lib/systemd/system/img.service'), '[Install]\nWantedBy=multi-user.target\nAlso=img.socket\n');
    await writeFile(join(root, 'lib/systemd/system/img.socket'), '[Install]\nWantedBy=sockets.target\n');
    const plan = planCloudConfig(
      input(config({ units: [unit('img.service', { enable: true }), unit('gone.service', { mask: true }), unit('rt.service', { content: service(), runtime: true, enable: true })] }), { live: false }),
    );
    const report = await applyPlan(plan, hostFor(root));
    expect(report.stoppedAt).toBeUndefined();
    expect(await readlink(join(root, 'etc/systemd/system/multi-user.target.wants/img.service'))).toBe('/lib/systemd/system/img.service');
    expect(await readlink(join(root, 'etc/systemd/system/sockets.target.wants/img.socket'))).toBe('/lib/systemd/system/img.socket');
    expect(await readlink(join(root, 'etc/systemd/system/gone.service'))).toBe('/dev/null');
    expect(await readlink(join(root, 'run/systemd/system/multi-user.target.wants/rt.service'))).toBe('/run/systemd/system/rt.service');
  });

  test('enabling a unit that exists nowhere stops with a clear error', async () => {
    const report = await applyPlan(planCloudConfig(input(config({ units: [unit('ghost.service', { enable: true })] }), { live: false })), hostFor(root));
    expect(report.stoppedAt?.detail).toMatch(/unit ghost.service not found in \/etc\/systemd\/system/);
  });

  test('a symlink planted in the root that points out is refused, and nothing lands outside', async () => {
    await symlink('../../outside', join(root, 'etc', 'evil'));
    const plan = planCloudConfig(input(config({ writeFiles: [file('/etc/evil/x', 'x')] }), { live: false }));
    const report = await applyPlan(plan, hostFor(root));
    expect(report.stoppedAt?.detail).toMatch(/leads outside the root through the symlink \/etc\/evil/);
  });

  test('timezone: link and /etc/timezone', async () => {
    await applyPlan(planCloudConfig(input(config({ timezone: 'Europe/Berlin' }), { live: false })), hostFor(root));
    expect(await readlink(join(root, 'etc/localtime'))).toBe('/usr/share/zoneinfo/Europe/Berlin');
    expect(await readFile(join(root, 'etc/timezone'), 'utf8')).toBe('Europe/Berlin\n');
  });

  test('dry run touches nothing', async () => {
    const before = await readdir(root, { recursive: true });
    const report = await applyPlan(planCloudConfig(input(config({ hostname: 'x', writeFiles: [file('/etc/a', 'a')] }), { live: false })), hostFor(root), { dryRun: true });
    expect(report.outcomes.every((o) => o.status === 'planned')).toBe(true);
    expect(await readdir(root, { recursive: true })).toEqual(before);
  });
});

describe('live hostname', () => {
  test('a live host also gets its running hostname set through a transient unit', async () => {
    const units = new RecordingUnits();
    await applyPlan(planCloudConfig(input(config({ hostname: 'live-1' }))), hostFor(root, units));
    expect(units.calls).toEqual(['transient keel-hostname-run1.service /bin/hostname live-1']);
    expect(await readFile(join(root, 'etc/hostname'), 'utf8')).toBe('live-1\n');
  });

  test('a host that shares systemd\'s namespace sets it itself, without a unit', async () => {
    const units = new RecordingUnits();
    const set: string[] = [];
    const report = await applyPlan(planCloudConfig(input(config({ hostname: 'live-2' }))), { ...hostFor(root, units), setRunningHostname: async (name) => void set.push(name) });
    expect(set).toEqual(['live-2']);
    expect(units.calls).toEqual([]);
    expect(report.failures).toEqual([]);
  });

  test('a running hostname the kernel refuses is a failure, with /etc/hostname written', async () => {
    const report = await applyPlan(planCloudConfig(input(config({ hostname: 'live-3' }))), {
      ...hostFor(root),
      setRunningHostname: async () => {
        throw new Error("EINVAL: invalid argument, open '/proc/sys/kernel/hostname'");
      },
    });
    expect(report.failures).toEqual(["setting the running hostname: EINVAL: invalid argument, open '/proc/sys/kernel/hostname'"]);
    expect(await readFile(join(root, 'etc/hostname'), 'utf8')).toBe('live-3\n');
  });
});
