/**
 * Users and groups under a root, by editing passwd/shadow/group/gshadow there (atomically,
 * each file keeping its mode and owner). useradd is not used: it cannot target an
 * arbitrary root well. Homes are made from the root's /etc/skel; SSH keys go to
 * `~/.ssh/authorized_keys` (0600 in a 0700 directory, owned by the user).
 */
import { posix } from 'node:path';
import { KeelError } from '../errors.js';
import type { Ownership, RootFs } from './root-fs.js';
import {
  type AccountsDb,
  addGroup,
  addMember,
  addUser,
  entries,
  findGroup,
  findUser,
  nextFreeId,
  parseGroup,
  parseGshadow,
  parsePasswd,
  parseShadow,
  printGroup,
  printGshadow,
  printPasswd,
  printShadow,
  setShadowHash,
  usedGids,
  usedUids,
} from './passwd-db.js';

const files = {
  passwd: { path: '/etc/passwd', mode: 0o644, parse: parsePasswd, print: printPasswd },
  shadow: { path: '/etc/shadow', mode: 0o640, parse: parseShadow, print: printShadow },
  group: { path: '/etc/group', mode: 0o644, parse: parseGroup, print: printGroup },
  gshadow: { path: '/etc/gshadow', mode: 0o640, parse: parseGshadow, print: printGshadow },
} as const;

type DbName = keyof typeof files;

/** The account files keel reads and rewrites under a root, for the applier's preflight. */
export const accountFilePaths: readonly string[] = Object.values(files).map((f) => f.path);

/** What happened to an account, for the apply summary. */
export type AccountChange = 'created' | 'exists' | 'updated';

/**
 * An account to ensure: created when absent; an existing one keeps its ids, home and groups.
 * The edge's own words: a caller (the applier) hands over its plan's user as this shape.
 */
export interface AccountSpec {
  name: string;
  gecos?: string;
  homedir?: string;
  noCreateHome?: boolean;
  primaryGroup?: string;
  groups: string[];
  /** Groups to join only when they already exist (the default user's sudo, docker...). */
  groupsIfPresent?: string[];
  noUserGroup?: boolean;
  system?: boolean;
  shell?: string;
}

/** The group a new user gets as primary: its own name, `primary_group`, or `users` with no_user_group (useradd -N). */
export function primaryGroupOf(spec: Pick<AccountSpec, 'name' | 'primaryGroup' | 'noUserGroup'>): string {
  return spec.primaryGroup ?? (spec.noUserGroup ? 'users' : spec.name);
}

/** The accounts of one root: read once per operation, written back only when changed. */
export class Accounts {
  constructor(
    private readonly fs: RootFs,
    /** Days since the epoch, for shadow's last-change field (time is passed in). */
    private readonly today: number,
  ) {}

  async read(): Promise<AccountsDb> {
    const text = async (name: DbName) => (await this.fs.read(files[name].path))?.toString('utf8') ?? '';
    return {
      passwd: parsePasswd(await text('passwd')),
      shadow: parseShadow(await text('shadow')),
      group: parseGroup(await text('group')),
      gshadow: parseGshadow(await text('gshadow')),
    };
  }

  /** Writes back the files whose text changed, keeping each one's mode and owner. */
  async write(before: AccountsDb, after: AccountsDb): Promise<void> {
    for (const name of Object.keys(files) as DbName[]) {
      const f = files[name];
      const print = f.print as (l: unknown) => string;
      const next = print(after[name]);
      if (next === print(before[name])) continue;
      const existing = await this.fs.entry(f.path);
      const shadowGid = findGroup(after, 'shadow')?.gid ?? 0;
      const owner: Ownership =
        existing?.type === 'file' ? { mode: existing.mode, uid: existing.uid, gid: existing.gid } : { mode: f.mode, uid: 0, gid: f.mode === 0o640 ? shadowGid : 0 };
      await this.fs.writeAtomic(f.path, Buffer.from(next), owner);
    }
  }

  /** Ensures a group exists. */
  async ensureGroup(name: string, system: boolean): Promise<AccountChange> {
    const db = await this.read();
    if (findGroup(db, name)) return 'exists';
    await this.write(db, addGroup(db, name, nextFreeId(usedGids(db), system)));
    return 'created';
  }

  /**
   * Ensures a user exists. A new one gets a uid, a private group (unless noUserGroup or a
   * primary group is named), its groups, and a home from /etc/skel; an existing one is
   * left as it is, as in coreos-cloudinit (only its password and keys are updated, by
   * their own operations).
   */
  async ensureUser(spec: AccountSpec): Promise<AccountChange> {
    const before = await this.read();
    if (findUser(before, spec.name)) return 'exists';
    let db = before;
    const system = spec.system === true;
    const uid = nextFreeId(usedUids(db), system);
    let gid: number;
    if (spec.primaryGroup) {
      if (!findGroup(db, spec.primaryGroup)) db = addGroup(db, spec.primaryGroup, nextFreeId(usedGids(db), system));
      gid = findGroup(db, spec.primaryGroup)!.gid;
    } else if (spec.noUserGroup) {
      // useradd -N: the `users` group (gid 100 by convention).
      if (!findGroup(db, 'users')) db = addGroup(db, 'users', nextFreeId(usedGids(db), true, 100));
      gid = findGroup(db, 'users')!.gid;
    } else {
      const own = findGroup(db, spec.name);
      if (!own) db = addGroup(db, spec.name, nextFreeId(usedGids(db), system, uid));
      gid = findGroup(db, spec.name)!.gid;
    }
    for (const g of spec.groups) {
      if (!findGroup(db, g)) db = addGroup(db, g, nextFreeId(usedGids(db), false));
      db = addMember(db, g, spec.name);
    }
    for (const g of spec.groupsIfPresent ?? []) if (findGroup(db, g)) db = addMember(db, g, spec.name);
    const home = spec.homedir ?? `/home/${spec.name}`;
    if (!home.startsWith('/')) throw new KeelError('invalid-input', `user ${spec.name}: home ${JSON.stringify(home)} is relative; expected an absolute path; stopping`);
    const shell = spec.shell ?? ((await this.fs.entry('/bin/bash')) ? '/bin/bash' : '/bin/sh');
    db = addUser(db, { name: spec.name, password: 'x', uid, gid, gecos: spec.gecos ?? '', home, shell }, '*', this.today);
    await this.write(before, db);
    if (!spec.noCreateHome) await this.makeHome(home, uid, gid);
    return 'created';
  }

  /** Creates the home (0700) with the root's /etc/skel copied in, unless it exists. */
  private async makeHome(home: string, uid: number, gid: number): Promise<void> {
    if (await this.fs.entry(home)) return;
    await this.fs.mkdirp(posix.dirname(home));
    await this.fs.mkdirp(home, { mode: 0o700, uid, gid });
    await this.copyTree('/etc/skel', home, uid, gid);
  }

  private async copyTree(from: string, to: string, uid: number, gid: number): Promise<void> {
    for (const name of await this.fs.list(from)) {
      const src = `${from}/${name}`;
      const dst = `${to}/${name}`;
      const e = await this.fs.entry(src);
      if (e?.type === 'dir') {
        await this.fs.mkdirp(dst, { mode: e.mode, uid, gid });
        await this.copyTree(src, dst, uid, gid);
      } else if (e?.type === 'file') {
        await this.fs.writeAtomic(dst, (await this.fs.read(src)) ?? Buffer.alloc(0), { mode: e.mode, uid, gid });
      } else if (e?.type === 'symlink') {
        await this.fs.symlinkAtomic(dst, e.target);
      }
    }
  }

  /** Sets (or keeps) a user's password hash, locking it with `!` when asked. */
  async setPassword(user: string, hash: string | undefined, lock: boolean): Promise<AccountChange> {
    const db = await this.read();
    if (!findUser(db, user)) throw new KeelError('not-found', `user ${user} does not exist under the root; expected it to be created first; stopping`);
    const next = setShadowHash(db, user, hash, lock, this.today);
    await this.write(db, next);
    return printShadow(next.shadow) === printShadow(db.shadow) ? 'exists' : 'updated';
  }

  /**
   * Adds keys to `~/.ssh/authorized_keys`, keeping the keys already there and adding each
   * new one once, so applying twice changes nothing.
   */
  async installSshKeys(user: string, keys: string[]): Promise<AccountChange> {
    const db = await this.read();
    const e = findUser(db, user);
    if (!e) throw new KeelError('not-found', `user ${user} does not exist under the root; expected it to be created first; stopping`);
    const owner = { uid: e.uid, gid: e.gid };
    if (!(await this.fs.entry(e.home))) {
      await this.fs.mkdirp(posix.dirname(e.home));
      await this.fs.mkdirp(e.home, { mode: 0o700, ...owner });
    }
    const dir = `${e.home}/.ssh`;
    const existing = await this.fs.entry(dir);
    // The user owns ~/.ssh: a link there could point root's chown and write anywhere in the root.
    if (existing && existing.type !== 'dir')
      throw new KeelError('unsafe-path', `${dir} is a ${existing.type === 'symlink' ? `symlink (to ${existing.target})` : 'non-directory'}; expected a directory owned by ${user}; refusing to install keys through it`);
    if (!existing) await this.fs.mkdirp(dir, { mode: 0o700, ...owner });
    else await this.fs.setOwnership(dir, { mode: 0o700, ...owner });
    const path = `${dir}/authorized_keys`;
    // Read only a plain file: through a link the user planted we could copy any file into theirs.
    const keysEntry = await this.fs.entry(path);
    if (keysEntry?.type === 'other') throw new KeelError('unsafe-path', `${path} is a FIFO, socket or device node; expected a regular file of keys; refusing to install keys through it`);
    const current = keysEntry?.type === 'file' ? ((await this.fs.read(path))?.toString('utf8') ?? '') : '';
    const lines = current.split('\n').filter((l) => l !== '');
    const added = keys.filter((k) => !lines.includes(k));
    await this.fs.writeAtomic(path, Buffer.from([...lines, ...added].join('\n') + '\n'), { mode: 0o600, ...owner });
    return added.length > 0 ? 'updated' : 'exists';
  }

  /**
   * Resolves an owner string (`user`, `user:group`, `:group`, or numeric ids) to ids through
   * the root's passwd and group, so users made earlier in the same plan are found.
   */
  async resolveOwner(owner: string | undefined): Promise<{ uid: number; gid: number }> {
    if (owner === undefined || owner === '') return { uid: 0, gid: 0 };
    const db = await this.read();
    const colon = owner.indexOf(':');
    const u = colon < 0 ? owner : owner.slice(0, colon);
    const g = colon < 0 ? undefined : owner.slice(colon + 1);
    // root is uid/gid 0 on every system, even in an empty root prepared offline.
    const user = u === '' ? undefined : /^\d+$/.test(u) ? { uid: Number(u), gid: findUser(db, u)?.gid } : (findUser(db, u) ?? (u === 'root' ? { uid: 0, gid: 0 } : undefined));
    if (u !== '' && !user) throw new KeelError('not-found', `owner ${JSON.stringify(owner)}: no user ${u} in the root's /etc/passwd; expected an existing user or one created by this config; stopping`);
    let gid: number | undefined = user?.gid ?? 0;
    if (g !== undefined && g !== '') {
      gid = /^\d+$/.test(g) ? Number(g) : (findGroup(db, g)?.gid ?? (g === 'root' ? 0 : undefined));
      if (gid === undefined) throw new KeelError('not-found', `owner ${JSON.stringify(owner)}: no group ${g} in the root's /etc/group; stopping`);
    }
    return { uid: user?.uid ?? 0, gid: gid ?? 0 };
  }

  /** Every user name, for tests and summaries. */
  async userNames(): Promise<string[]> {
    return entries((await this.read()).passwd).map((e) => e.name);
  }
}
