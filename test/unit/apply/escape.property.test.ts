/**
 * Property: whatever the config (random paths with `..`, `.` and links, hostile homes,
 * unit and drop-in names) and whatever hostile links are planted in the root, applying
 * it never writes outside the root. Checked by snapshotting a sibling canary directory
 * and by scanning that every path created in the shared parent is under the root.
 */
import { lstat, mkdir, mkdtemp, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { applyPlan } from '../../../src/apply/apply.js';
import type { CloudConfig } from '../../../src/cloudconfig/model.js';
import { planCloudConfig } from '../../../src/cloudconfig/plan.js';
import { KeelError } from '../../../src/errors.js';
import { config, file, input, unit, user } from '../cloudconfig/plan-fixtures.js';
import { RecordingUnits } from './recording-units.js';
import { hostFor } from './temp-root.js';

let base: string;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'keel-escape-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

/** Every path under `dir` with its type, mode, size and link target. */
async function listing(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(dir, rel))).sort()) {
    const path = `${rel}/${name}`;
    const st = await lstat(join(dir, path));
    out.push(`${path} ${st.mode} ${st.size} ${st.isSymbolicLink() ? await readlink(join(dir, path)) : ''}`);
    if (st.isDirectory()) out.push(...(await listing(dir, path)));
  }
  return out;
}

const segment = fc.constantFrom('etc', 'home', 'a', 'b', '..', '.', 'out', 'abs', 'loop', 'self', 'canary', 'usr', 'x.conf', 'systemd', 'system');
const hostilePath = fc.array(segment, { minLength: 1, maxLength: 6 }).map((s) => '/' + s.join('/'));
/** Mostly plausible paths (through the planted links), sometimes anything. */
const somePath = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom('etc', 'etc/out', 'etc/abs', 'abs', 'out', 'etc/self/self', 'var/lib'), fc.constantFrom('a.conf', 'b', 'x/y.conf')).map(([d, f]) => `/${d}/${f}`) },
  { weight: 1, arbitrary: hostilePath },
);
const name = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('app.service', 'x.mount', 'eth0.network', 'canary.service') }, { weight: 1, arbitrary: fc.constantFrom('../up.service', 'a/b.service', 'out') });
const dropInName = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('10.conf', 'ok.conf') }, { weight: 1, arbitrary: fc.constantFrom('../../../canary/x.conf', '..', 'a/b.conf') });

const cloudConfig: fc.Arbitrary<CloudConfig> = fc
  .record({
    files: fc.uniqueArray(fc.record({ path: somePath, text: fc.string({ maxLength: 20 }), append: fc.boolean(), owner: fc.constantFrom(undefined, 'root', 'u1', 'u1:u1', '0:0') }), { maxLength: 5, selector: (f) => f.path }),
    users: fc.uniqueArray(fc.record({ name: fc.constantFrom('u1', 'u2', 'core'), homedir: fc.option(somePath, { nil: undefined }), keys: fc.array(fc.constantFrom('k1', 'k2'), { maxLength: 2 }) }), { maxLength: 2, selector: (u) => u.name }),
    units: fc.uniqueArray(fc.record({ name, content: fc.option(fc.constant('[Install]\nWantedBy=multi-user.target\nAlias=../../../canary/alias.service\n'), { nil: undefined }), state: fc.constantFrom('none', 'enable', 'enable', 'mask'), runtime: fc.boolean(), dropIns: fc.uniqueArray(dropInName, { maxLength: 2 }) }), { maxLength: 2, selector: (u) => u.name }),
    hostname: fc.option(fc.constantFrom('node1', 'node1', '../canary', 'a.b'), { nil: undefined }),
    timezone: fc.option(fc.constantFrom('UTC', 'UTC', '../../canary', 'Europe/Berlin'), { nil: undefined }),
    keys: fc.array(fc.constantFrom('ssh-ed25519 AAAA k'), { maxLength: 1 }),
  })
  .map((r) =>
    config({
      writeFiles: r.files.map((f) => file(f.path, f.text, { append: f.append, ...(f.owner ? { owner: f.owner } : {}) })),
      users: r.users.map((u) => user(u.name, { sshAuthorizedKeys: u.keys, ...(u.homedir ? { homedir: u.homedir } : {}) })),
      units: r.units.map((u) => unit(u.name, { ...(u.content && u.state !== 'mask' ? { content: u.content } : {}), enable: u.state === 'enable', mask: u.state === 'mask', runtime: u.runtime, dropIns: u.dropIns.map((d) => ({ name: d, content: '[Service]\n' })) })),
      sshAuthorizedKeys: r.keys,
      ...(r.hostname ? { hostname: r.hostname } : {}),
      ...(r.timezone ? { timezone: r.timezone } : {}),
    }),
  );

let run = 0;
/** How the runs ended, so the property is known not to hold vacuously (e.g. every config refused). */
const ends = { refused: 0, stopped: 0, unsafe: 0, applied: 0, midway: 0 };

test('apply never writes outside the root, whatever the config and the links planted in it', async () => {
  await fc.assert(
    fc.asyncProperty(cloudConfig, fc.boolean(), async (c, live) => {
      const dir = join(base, `run-${run++}`);
      const root = join(dir, 'root');
      const canary = join(dir, 'canary');
      await mkdir(join(root, 'etc/systemd/system'), { recursive: true });
      await mkdir(canary);
      await writeFile(join(canary, 'keep'), 'canary\n');
      await writeFile(join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
      // Hostile links: relative out of the root, absolute to the canary's host path, loops.
      await symlink('../../canary', join(root, 'etc', 'out'));
      await symlink('../canary', join(root, 'out'));
      await symlink(canary, join(root, 'etc', 'abs'));
      await symlink(canary, join(root, 'abs'));
      await symlink('loop', join(root, 'etc', 'loop'));
      await symlink('.', join(root, 'etc', 'self'));
      await symlink('../../canary', join(root, 'home'));
      await symlink('../../../canary', join(root, 'etc/systemd/system/multi-user.target.wants'));
      const before = await listing(canary);
      const parentBefore = await readdir(dir);
      const rootBefore = await listing(root);

      let plan;
      try {
        plan = planCloudConfig(input(c, { live }));
      } catch (error) {
        expect(error).toBeInstanceOf(KeelError);
        ends.refused++;
        await rm(dir, { recursive: true, force: true });
        return;
      }
      const report = await applyPlan(plan, hostFor(root, live ? new RecordingUnits() : undefined));
      // Every failure is reported data, never a crash; and nothing outside the root changed.
      if (report.stoppedAt) {
        expect(typeof report.stoppedAt.detail).toBe('string');
        ends.stopped++;
        if (/outside the root|symlinks/.test(report.stoppedAt.detail ?? '')) ends.unsafe++;
        // The preflight refuses before writing; a stop midway is only for what it cannot foresee.
        if (report.nothingWritten) expect(await listing(root)).toEqual(rootBefore);
        else ends.midway++;
      } else ends.applied++;
      expect(await listing(canary)).toEqual(before);
      expect(await readdir(dir)).toEqual(parentBefore);
      await rm(dir, { recursive: true, force: true });
    }),
    { numRuns: 200, seed: Number(process.env.FC_SEED ?? 20240501) },
  );
  expect(ends.applied, JSON.stringify(ends)).toBeGreaterThan(3);
  expect(ends.unsafe, JSON.stringify(ends)).toBeGreaterThan(10);
  expect(ends.refused, JSON.stringify(ends)).toBeGreaterThan(0);
  // Every stop was a preflight refusal: no generated config got halfway (seeds 1, 2, 3 and the default checked).
  expect(ends.midway, JSON.stringify(ends)).toBe(0);
}, 120_000);
