// Images the supervisor cannot find locally are pulled from their registry: a real registry
// (Debian's docker-registry, the CNCF distribution server) on 127.0.0.1, the busybox test
// image pushed to it with podman, then pulled by ArchiveImageSource into a fresh podman
// storage. Plain HTTP is allowed for that one address through registries.conf, as an
// operator would configure a private mirror.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArchiveImageSource } from '../../../src/containers/image-source.js';
import { Podman } from '../../../src/containers/podman.js';
import { buildBusyboxArchive, containersConf, testImage } from './guest.js';

let work: string;
let registry: ResultPromise | undefined;
let address: string;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A podman with its own storage under `work/name`, as the supervisor would call it. */
function podmanIn(name: string): Podman {
  return new Podman('/usr/bin/podman', ['--root', join(work, name, 'storage'), '--runroot', join(work, name, 'run')]);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'keel-registry-'));
  address = `127.0.0.1:${await freePort()}`;
  await writeFile(
    join(work, 'registry.yml'),
    `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${join(work, 'registry')}\nhttp:\n  addr: ${address}\n`,
  );
  registry = execa('/usr/bin/docker-registry', ['serve', join(work, 'registry.yml')], { reject: false, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  registry.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  for (let i = 0; ; i++) {
    const up = await fetch(`http://${address}/v2/`).then((r) => r.ok, () => false);
    if (up) break;
    if (i >= 100 || registry.exitCode !== null) throw new Error(`docker-registry did not answer on ${address} within 10 s: ${stderr.trim()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await writeFile(join(work, 'containers.conf'), containersConf);
  await writeFile(join(work, 'registries.conf'), `[[registry]]\nlocation = "${address}"\ninsecure = true\n`);
  process.env.CONTAINERS_CONF = join(work, 'containers.conf');
  process.env.CONTAINERS_REGISTRIES_CONF = join(work, 'registries.conf');
  // Push the test image: build its archive, load it into a publisher's storage, push.
  await mkdir(join(work, 'build'), { recursive: true });
  const archive = await buildBusyboxArchive(join(work, 'build'));
  const publisher = podmanIn('publisher');
  for (const argv of [['load', '--quiet', '--input', archive], ['push', '--quiet', testImage, `${address}/keel/busybox:1`]]) {
    const r = await publisher.run(argv);
    if (r.exitCode !== 0) throw new Error(`podman ${argv[0]}: ${r.stderr}`);
  }
}, 180_000);

afterAll(async () => {
  delete process.env.CONTAINERS_CONF;
  delete process.env.CONTAINERS_REGISTRIES_CONF;
  registry?.kill();
  await registry;
  if (work) await rm(work, { recursive: true, force: true });
});

test('an image in no archive is pulled from its registry, then found present', async () => {
  const podman = podmanIn('node');
  const source = new ArchiveImageSource(podman, join(work, 'no-archives'));
  expect(await source.ensure(`${address}/keel/busybox:1`)).toBe('pulled');
  expect(await source.ensure(`${address}/keel/busybox:1`)).toBe('present');
  const run = await podman.run(['run', '--rm', '--network', 'none', `${address}/keel/busybox:1`, 'echo', 'pulled and ran']);
  expect(run.stdout.trim()).toBe('pulled and ran');
}, 120_000);

test('an image the registry does not have fails with the pull error, and nothing is left behind', async () => {
  const podman = podmanIn('node');
  const source = new ArchiveImageSource(podman, join(work, 'no-archives'));
  await expect(source.ensure(`${address}/keel/missing:1`)).rejects.toThrow(/image 127\.0\.0\.1:\d+\/keel\/missing:1: not in podman's storage, in no archive under .*, and the pull failed \(.*manifest unknown.*\)/);
  expect((await podman.run(['image', 'exists', `${address}/keel/missing:1`])).exitCode).toBe(1);
}, 120_000);
