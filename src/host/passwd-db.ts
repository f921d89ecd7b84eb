/**
 * The four account files (passwd, shadow, group, gshadow) as data: parse, change, print.
 * Pure, so that users and groups can be created under any root by editing the files
 * (useradd cannot reliably target an arbitrary root) and the edits can be tested exactly.
 * Lines keel does not understand (comments, NIS `+` entries) are kept verbatim.
 */

export interface PasswdEntry {
  name: string;
  password: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
}

export interface ShadowEntry {
  name: string;
  hash: string;
  /** Days since 1970-01-01 of the last password change, '' when unknown. */
  lastChange: string;
  /** min, max, warn, inactive, expire, reserved: kept as they are. */
  rest: string[];
}

export interface GroupEntry {
  name: string;
  password: string;
  gid: number;
  members: string[];
}

export interface GshadowEntry {
  name: string;
  password: string;
  admins: string[];
  members: string[];
}

/** A line of an account file: a parsed entry, or text kept as it was. */
export type DbLine<T> = { entry: T } | { raw: string };

export interface AccountsDb {
  passwd: DbLine<PasswdEntry>[];
  shadow: DbLine<ShadowEntry>[];
  group: DbLine<GroupEntry>[];
  gshadow: DbLine<GshadowEntry>[];
}

const list = (s: string | undefined): string[] => (s ? s.split(',').filter((m) => m !== '') : []);

function parseLines<T>(text: string, fields: number, read: (f: string[]) => T | undefined): DbLine<T>[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((raw) => {
    const f = raw.split(':');
    const entry = raw.startsWith('#') || raw.startsWith('+') || raw.startsWith('-') || f.length < fields ? undefined : read(f);
    return entry === undefined ? { raw } : { entry };
  });
}

const id = (s: string | undefined): number | undefined => (s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined);

export function parsePasswd(text: string): DbLine<PasswdEntry>[] {
  return parseLines(text, 7, ([name = '', password = '', uid, gid, gecos = '', home = '', shell = '']) => {
    const u = id(uid);
    const g = id(gid);
    return u === undefined || g === undefined || name === '' ? undefined : { name, password, uid: u, gid: g, gecos, home, shell };
  });
}

export function parseShadow(text: string): DbLine<ShadowEntry>[] {
  return parseLines(text, 2, ([name = '', hash = '', lastChange = '', ...rest]) => (name === '' ? undefined : { name, hash, lastChange, rest }));
}

export function parseGroup(text: string): DbLine<GroupEntry>[] {
  return parseLines(text, 4, ([name = '', password = '', gid, members]) => {
    const g = id(gid);
    return g === undefined || name === '' ? undefined : { name, password, gid: g, members: list(members) };
  });
}

export function parseGshadow(text: string): DbLine<GshadowEntry>[] {
  return parseLines(text, 4, ([name = '', password = '', admins, members]) => (name === '' ? undefined : { name, password, admins: list(admins), members: list(members) }));
}

function printLines<T>(lines: DbLine<T>[], print: (e: T) => string): string {
  return lines.map((l) => ('raw' in l ? l.raw : print(l.entry))).join('\n') + (lines.length > 0 ? '\n' : '');
}

export const printPasswd = (l: DbLine<PasswdEntry>[]) => printLines(l, (e) => [e.name, e.password, e.uid, e.gid, e.gecos, e.home, e.shell].join(':'));
export const printShadow = (l: DbLine<ShadowEntry>[]) =>
  printLines(l, (e) => [e.name, e.hash, e.lastChange, ...(e.rest.length > 0 ? e.rest : ['0', '99999', '7', '', '', ''])].join(':'));
export const printGroup = (l: DbLine<GroupEntry>[]) => printLines(l, (e) => [e.name, e.password, e.gid, e.members.join(',')].join(':'));
export const printGshadow = (l: DbLine<GshadowEntry>[]) => printLines(l, (e) => [e.name, e.password, e.admins.join(','), e.members.join(',')].join(':'));

export function entries<T>(lines: DbLine<T>[]): T[] {
  return lines.flatMap((l) => ('entry' in l ? [l.entry] : []));
}

export function findUser(db: AccountsDb, name: string): PasswdEntry | undefined {
  return entries(db.passwd).find((e) => e.name === name);
}

export function findGroup(db: AccountsDb, name: string): GroupEntry | undefined {
  return entries(db.group).find((e) => e.name === name);
}

/** The id ranges of Debian's login.defs: system ids count down from 999, others up from 1000. */
export const idRanges = { systemMin: 100, systemMax: 999, userMin: 1000, userMax: 59999 };

/**
 * The id useradd would pick: for normal accounts one above the highest used in the user
 * range (the lowest free one if that overflows); for system accounts the highest free one.
 * `preferred` is taken when free (a user's private group gets the user's uid as gid).
 */
export function nextFreeId(used: ReadonlySet<number>, system: boolean, preferred?: number): number {
  if (preferred !== undefined && !used.has(preferred)) return preferred;
  const { systemMin, systemMax, userMin, userMax } = idRanges;
  if (system) {
    for (let n = systemMax; n >= systemMin; n--) if (!used.has(n)) return n;
  } else {
    const highest = Math.max(userMin - 1, ...[...used].filter((n) => n >= userMin && n <= userMax));
    if (highest < userMax) return highest + 1;
    for (let n = userMin; n <= userMax; n++) if (!used.has(n)) return n;
  }
  throw new RangeError(`no free ${system ? 'system ' : ''}id left`);
}

export const usedUids = (db: AccountsDb) => new Set(entries(db.passwd).map((e) => e.uid));
export const usedGids = (db: AccountsDb) => new Set(entries(db.group).map((e) => e.gid));

/** Adds a group (and its gshadow line). Returns the new db; the caller checks it is absent. */
export function addGroup(db: AccountsDb, name: string, gid: number): AccountsDb {
  return {
    ...db,
    group: [...db.group, { entry: { name, password: 'x', gid, members: [] } }],
    gshadow: [...db.gshadow, { entry: { name, password: '!', admins: [], members: [] } }],
  };
}

/** Adds `user` to the member lists of `group` in group and gshadow (idempotent). */
export function addMember(db: AccountsDb, group: string, user: string): AccountsDb {
  const add = (members: string[]) => (members.includes(user) ? members : [...members, user]);
  return {
    ...db,
    group: db.group.map((l) => ('entry' in l && l.entry.name === group ? { entry: { ...l.entry, members: add(l.entry.members) } } : l)),
    gshadow: db.gshadow.map((l) => ('entry' in l && l.entry.name === group ? { entry: { ...l.entry, members: add(l.entry.members) } } : l)),
  };
}

/** Adds a passwd line and its shadow line with `hash` ('*' = no password yet). */
export function addUser(db: AccountsDb, user: PasswdEntry, hash: string, today: number): AccountsDb {
  return {
    ...db,
    passwd: [...db.passwd, { entry: { ...user, password: 'x' } }],
    shadow: [...db.shadow, { entry: { name: user.name, hash, lastChange: String(today), rest: ['0', '99999', '7', '', '', ''] } }],
  };
}

/**
 * Sets a user's shadow hash, adding a shadow line when it has none. `lock` puts `!` in
 * front (passwd -l's convention), keeping the hash so unlocking restores it.
 */
export function setShadowHash(db: AccountsDb, name: string, hash: string | undefined, lock: boolean, today: number): AccountsDb {
  const current = entries(db.shadow).find((e) => e.name === name);
  let next = hash ?? current?.hash ?? '*';
  if (lock && !next.startsWith('!')) next = `!${next}`;
  const changed = hash !== undefined && hash !== current?.hash ? String(today) : (current?.lastChange ?? String(today));
  if (!current) return { ...db, shadow: [...db.shadow, { entry: { name, hash: next, lastChange: changed, rest: ['0', '99999', '7', '', '', ''] } }] };
  return { ...db, shadow: db.shadow.map((l) => ('entry' in l && l.entry.name === name ? { entry: { ...l.entry, hash: next, lastChange: changed } } : l)) };
}

/** Days since the epoch, shadow's unit for the last password change. */
export function daysSinceEpoch(now: Date): number {
  return Math.floor(now.getTime() / 86_400_000);
}
