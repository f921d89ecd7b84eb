/**
 * The update repository of the update, verity and cluster e2e tests: releases made from build/release's
 * slot tree without rebuilding the image: the tree extracted with fsck.erofs, its
 * version files changed, the current keel executable put in, a failing health check added for
 * a broken release, and the tree packed again by images/make-slot.sh (erofs + dm-verity) with the
 * manifest images/manifest.sh writes for `make image`. The
 * image's own release (build/release, the slot keel.img boots) is v1 and the delta base of the
 * first one published. The cluster's hosts get their settings from cloud-config (the state
 * partition's /etc, which every slot shares); update.test.ts bakes its own into the tree.
 */
import { chmod, cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { repoRoot } from '../harness/qemu.js';
import { readBundle } from '../../src/update/release-bundle.js';
import { publishRelease } from '../../src/update/repository-writer.js';
import { makePayloads, type PayloadFile } from '../../src/update/payload-maker.js';
import type { SigningKey } from '../../src/update/signing-key.js';

export const releaseDir = join(repoRoot, 'build/release');

/** The slot's dm-verity layout (images/make-slot.sh's sidecar, the manifest's "verity"). */
export interface SlotVerity {
  hashOffset: number;
  rootHash: string;
  salt: string;
}

/** A release's bundle directory (slot.img and its verity sidecar, kernel, initramfs, manifest). */
export interface MadeRelease {
  version: string;
  bundleDir: string;
  verity: SlotVerity;
}

/** The release tree: build/release's slot extracted once, with the keel executable build/keel holds now. */
export async function extractTree(work: string): Promise<string> {
  const tree = join(work, 'tree');
  await execa('nice', ['fsck.erofs', `--extract=${tree}`, '--preserve', join(releaseDir, 'slot.img')]);
  await cp(join(repoRoot, 'build/keel'), join(tree, 'usr/bin/keel'));
  // fsck.erofs chowns after chmod, which clears set-user-id and set-group-id bits: a release
  // without them has no working sudo (run 3 of the cluster test lost `sudo` on v2). Their modes in
  // the image's tree (find .cache/image/rootfs -perm /6000), given back where the file exists.
  for (const [path, mode] of Object.entries(setIdModes)) if (existsSync(join(tree, path))) await chmod(join(tree, path), mode);
  return tree;
}

const setIdModes: Record<string, number> = {
  'usr/bin/sudo': 0o4755, 'usr/bin/su': 0o4755, 'usr/bin/mount': 0o4755, 'usr/bin/umount': 0o4755, 'usr/bin/passwd': 0o4755,
  'usr/bin/chsh': 0o4755, 'usr/bin/chfn': 0o4755, 'usr/bin/gpasswd': 0o4755, 'usr/bin/newgrp': 0o4755, 'usr/lib/openssh/ssh-keysign': 0o4755,
  'usr/lib/dbus-1.0/dbus-daemon-launch-helper': 0o4754, 'usr/bin/chage': 0o2755, 'usr/bin/expiry': 0o2755, 'usr/bin/ssh-agent': 0o2755, 'usr/sbin/unix_chkpwd': 0o2755,
};

/** Packs `tree` as `version` (with a check that always fails when `broken`) into a bundle under `work`. */
export async function makeRelease(work: string, tree: string, version: string, broken: boolean): Promise<MadeRelease> {
  await writeFile(join(tree, 'usr/lib/keel/version'), `${version}\n`);
  const osRelease = (await readFile(join(tree, 'usr/lib/os-release'), 'utf8')).replace(/^(VERSION|VERSION_ID)=.*$/gm, (_l, k: string) => `${k}="${version}"`);
  await writeFile(join(tree, 'usr/lib/os-release'), osRelease);
  const check = join(tree, 'usr/lib/keel/health.d/50-e2e-broken');
  await rm(check, { force: true });
  if (broken) {
    await mkdir(join(tree, 'usr/lib/keel/health.d'), { recursive: true });
    await writeFile(check, '#!/bin/sh\necho "e2e: this release is broken on purpose" >&2\nexit 1\n');
    await chmod(check, 0o755);
  }
  const bundleDir = join(work, `bundle-${version}`);
  await mkdir(bundleDir, { recursive: true });
  const slot = join(bundleDir, 'slot.img');
  await execa('nice', [join(repoRoot, 'images/make-slot.sh'), tree, slot, version], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
  await cp(join(releaseDir, 'vmlinuz'), join(bundleDir, 'vmlinuz'));
  await cp(join(releaseDir, 'initramfs.img'), join(bundleDir, 'initramfs.img'));
  const manifest = await execa(join(repoRoot, 'images/manifest.sh'), ['release', version, bundleDir]);
  await writeFile(join(bundleDir, 'manifest.json'), manifest.stdout);
  return { version, bundleDir, verity: JSON.parse(await readFile(`${slot}.verity.json`, 'utf8')) as SlotVerity };
}

/** Publishes `release` on channel stable of `repoDir`; with a delta from the bundle in `deltaFrom` (the version the hosts run) when given. */
export async function publishVersion(repoDir: string, key: SigningKey, release: MadeRelease, deltaFrom?: string): Promise<PayloadFile[]> {
  const bundle = await readBundle(release.bundleDir);
  const payloads = deltaFrom ? await makePayloads({ bundle, from: [await readBundle(deltaFrom)], workDir: `${release.bundleDir}-payloads`, level: 3 }) : [];
  await publishRelease({ repoDir, key, bundle, channel: 'stable', nowMs: Date.now(), payloads });
  return payloads;
}
