/**
 * Golden-test helpers: the base root every fixture starts from (a small Debian-like tree),
 * and a text dump of what an apply created or changed in it: paths, types, modes, owners
 * (uid:gid), link targets and contents, so a fixture's expected tree reads like a listing.
 */
import { chmod, chown, lstat, mkdir, readFile, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

interface BaseEntry {
  path: string;
  mode: number;
  uid?: number;
  gid?: number;
  content?: string;
  link?: string;
}

/** What a freshly built keel image has under / before cloud-config runs (the parts that matter here). */
const base: BaseEntry[] = [
  { path: 'etc/passwd', mode: 0o644, content: 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' },
  { path: 'etc/shadow', mode: 0o640, gid: 42, content: 'root:*:19700:0:99999:7:::\ndaemon:*:19700:0:99999:7:::\nnobody:*:19700:0:99999:7:::\n' },
  { path: 'etc/group', mode: 0o644, content: 'root:x:0:\ndaemon:x:1:\nshadow:x:42:\nsudo:x:27:\nstaff:x:50:\nusers:x:100:\ndocker:x:998:\nnogroup:x:65534:\n' },
  { path: 'etc/gshadow', mode: 0o640, gid: 42, content: 'root:*::\ndaemon:*::\nshadow:*::\nsudo:*::\nstaff:*::\nusers:*::\ndocker:!::\nnogroup:*::\n' },
  { path: 'etc/skel/.profile', mode: 0o644, content: '# ~/.profile from /etc/skel\n' },
  { path: 'etc/skel/.bashrc', mode: 0o644, content: '# ~/.bashrc from /etc/skel\n' },
  { path: 'etc/existing.conf', mode: 0o644, content: 'original line\n' },
  { path: 'bin/bash', mode: 0o755, content: '' },
  { path: 'usr/share/zoneinfo/America/New_York', mode: 0o644, content: 'TZif (stand-in)\n' },
  { path: 'usr/share/zoneinfo/Europe/Berlin', mode: 0o644, content: 'TZif (stand-in)\n' },
  { path: 'lib/systemd/system/image-daemon.service', mode: 0o644, content: '[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\nAlso=image-daemon.socket\n' },
  { path: 'lib/systemd/system/image-daemon.socket', mode: 0o644, content: '[Socket]\nListenStream=/run/image.sock\n[Install]\nWantedBy=sockets.target\n' },
  { path: 'lib/systemd/system/worker@.service', mode: 0o644, content: '[Service]\nExecStart=/bin/echo %i\n[Install]\nWantedBy=multi-user.target\n' },
  { path: 'lib/systemd/system/existing.service', mode: 0o644, content: '[Service]\nExecStart=/bin/true\n' },
  { path: 'lib/systemd/system/e2scrub_reap.service', mode: 0o644, content: '[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=default.target\n' },
  // Debian's etcd-server unit, as the image ships it (disabled): cloud-config's etcd settings enable it.
  { path: 'lib/systemd/system/etcd.service', mode: 0o644, content: '[Unit]\nDescription=etcd - highly-available key value store\nAfter=network.target\nWants=network-online.target\n[Service]\nEnvironment=ETCD_DATA_DIR=/var/lib/etcd/default\nType=notify\nUser=etcd\nExecStart=/usr/bin/etcd $DAEMON_ARGS\nRestart=on-abnormal\n[Install]\nWantedBy=multi-user.target\nAlias=etcd2.service\n' },
  { path: 'etc/systemd/system', mode: 0o755 },
];

/** Builds the base tree under `root` (which must exist). */
export async function makeBaseRoot(root: string): Promise<void> {
  for (const e of base) {
    const path = join(root, e.path);
    if (e.content === undefined && e.link === undefined) {
      await mkdir(path, { recursive: true, mode: e.mode });
      continue;
    }
    await mkdir(join(path, '..'), { recursive: true });
    if (e.link !== undefined) await symlink(e.link, path);
    else {
      await writeFile(path, e.content ?? '');
      await chown(path, e.uid ?? 0, e.gid ?? 0);
      await chmod(path, e.mode);
    }
  }
}

/** One path's state: enough to tell whether an apply touched it. */
interface Node {
  line: string;
  body: string[];
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function bodyOf(bytes: Buffer): string[] {
  let text: string | undefined;
  try {
    text = decoder.decode(bytes);
  } catch {
    text = undefined;
  }
  // eslint-disable-next-line no-control-regex
  if (text === undefined || /[\u0000-\u0008\u000e-\u001f]/.test(text)) return [`  base64 ${bytes.toString('base64')}`];
  if (text === '') return [];
  const lines = text.split('\n');
  const last = lines.pop();
  const out = lines.map((l) => `  | ${l}`);
  if (last !== '') out.push(`  | ${last}`, '  (no newline at end)');
  return out;
}

/** Values that legitimately change between builds are replaced by a placeholder. */
function normalise(path: string, body: string[]): string[] {
  if (!path.startsWith('/var/lib/keel/cloud-config/instances/')) return body;
  return body.map((l) => l.replace(/"keelVersion": "[^"]*"/, '"keelVersion": "<version>"'));
}

async function scan(root: string, rel = ''): Promise<Map<string, Node>> {
  const out = new Map<string, Node>();
  const names = (await readdir(join(root, rel))).sort();
  for (const name of names) {
    const path = `${rel}/${name}`;
    const host = join(root, path);
    const st = await lstat(host);
    const owner = `${st.uid}:${st.gid}`;
    const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
    if (st.isSymbolicLink()) out.set(path, { line: `l ${owner} ${path} -> ${await readlink(host)}`, body: [] });
    else if (st.isDirectory()) {
      out.set(path, { line: `d ${mode} ${owner} ${path}`, body: [] });
      for (const [k, v] of await scan(root, path)) out.set(k, v);
    } else out.set(path, { line: `f ${mode} ${owner} ${path}`, body: normalise(path, bodyOf(await readFile(host))) });
  }
  return out;
}

/** Snapshot of a tree, to diff against after an apply. */
export type TreeSnapshot = Map<string, Node>;

export function snapshot(root: string): Promise<TreeSnapshot> {
  return scan(root);
}

/** The listing of every path that is new or different from `before`, and of every path that vanished. */
export function treeText(before: TreeSnapshot, after: TreeSnapshot): string {
  const lines: string[] = [];
  for (const [path, node] of [...after].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const old = before.get(path);
    if (old && old.line === node.line && old.body.join('\n') === node.body.join('\n')) continue;
    lines.push(node.line, ...node.body);
  }
  for (const path of before.keys()) if (!after.has(path)) lines.push(`removed ${path}`);
  return lines.join('\n') + '\n';
}
