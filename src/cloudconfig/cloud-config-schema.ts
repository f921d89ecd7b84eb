/**
 * The schema of a `#cloud-config` document: every key coreos-cloudinit accepts, the cloud-init
 * keys a container host needs (runcmd, bootcmd, write_files[].append, users[].sudo,
 * users[].lock_passwd, timezone), and keel's own `keel:` section. Described once with
 * src/schema; validation, the typed parts of the model and `keel cloud-config schema` all
 * come from here. Sections refine to model pieces; to-model.ts assembles them.
 */
import { absolutePath, accountName, hostname, nonEmpty, octalMode, s, text, timezone, type RefineContext } from '../schema/index.js';
import { ContentDecoder, encodingSpellings, maxFileContentBytes } from './decode-content.js';
import type { CommandLine, DropIn, FileEncoding, Unit, User, WriteFile } from './model.js';
import { unitCommands, type UnitCommand } from '../systemd/unit-command.js';
import { containersSchema } from './containers-schema.js';
import { coreosLocksmithSchema, coreosUpdateSchema, etcdSchema, keelLockSchema, keelUpdateSchema } from './settings-schema.js';
import { reportEtcdChecks } from './etcd-checks.js';

/** `[options ]type base64[ comment]` as in authorized_keys; anything else is kept but warned about. */
const sshKeyShape = /(^|\s)(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)\s+[A-Za-z0-9+/]+={0,3}(\s|$)/;
const sshKey = s.custom({
  expected: 'an ssh public key',
  jsonSchema: { type: 'string', minLength: 1 },
  read({ value }, r) {
    if (typeof value !== 'string' || value.trim() === '') return r.error(`expected an ssh public key, found ${typeof value === 'string' ? 'an empty string' : JSON.stringify(value)}`);
    if (!sshKeyShape.test(value)) r.warn('this does not look like an ssh public key (type, then base64, then an optional comment); it is installed as given');
    return value.trim();
  },
});
const sshKeys = s.list(sshKey, { expected: 'a list of ssh public keys' });

/** cloud-init's `sudo`: one rule, a list of rules, or false for none. */
const sudo = s.union([s.string({ minLength: 1, coerce: 'never' }), s.list(s.string({ minLength: 1 }), { expected: 'a list of sudoers rules' }), s.enum([false])], {
  expected: 'a sudoers rule, a list of rules or false',
});

const userSchema = s.object(
  {
    name: s.required(accountName),
    passwd: s.string({ description: 'password hash as in /etc/shadow' }),
    gecos: s.string({ coerce: 'silent' }),
    homedir: absolutePath,
    no_create_home: s.boolean(),
    primary_group: accountName,
    groups: s.list(accountName, { expected: 'a list of group names' }),
    no_user_group: s.boolean(),
    system: s.boolean(),
    no_log_init: s.boolean(),
    shell: absolutePath,
    ssh_authorized_keys: sshKeys,
    sudo,
    lock_passwd: s.boolean(),
  },
  {
    refine: (v, ctx): User | undefined => {
      const passwd = v.passwd as string | undefined;
      if (passwd !== undefined && !/^[$!*]/.test(passwd) && !/^[./0-9A-Za-z]{13}$/.test(passwd))
        ctx.warn('passwd', 'passwd does not look like a password hash (such as $6$…); expected a crypt hash, never plain text; it is written as given');
      if (v.name === undefined) return undefined;
      const sudoRules = v.sudo === undefined ? undefined : v.sudo === false ? [] : typeof v.sudo === 'string' ? [v.sudo] : (v.sudo as string[]);
      const user: User = { name: v.name as string, groups: (v.groups as string[] | undefined) ?? [], sshAuthorizedKeys: (v.ssh_authorized_keys as string[] | undefined) ?? [] };
      const optional: [keyof User, unknown][] = [
        ['passwd', passwd],
        ['gecos', v.gecos],
        ['homedir', v.homedir],
        ['noCreateHome', v.no_create_home],
        ['primaryGroup', v.primary_group],
        ['noUserGroup', v.no_user_group],
        ['system', v.system],
        ['noLogInit', v.no_log_init],
        ['shell', v.shell],
        ['sudo', sudoRules],
        ['lockPasswd', v.lock_passwd],
      ];
      for (const [k, value] of optional) if (value !== undefined) (user as unknown as Record<string, unknown>)[k] = value;
      return user;
    },
  },
);

/** File content: text, or bytes from YAML's `!!binary`. */
const fileContent = s.custom({
  expected: 'the file content as text',
  jsonSchema: { type: 'string' },
  read({ value, source }, r) {
    if (typeof value === 'string' || value instanceof Uint8Array) return value;
    if (value === null) return '';
    if (typeof value === 'number' || typeof value === 'boolean') {
      r.warn(`read ${JSON.stringify(source.trim())} as text; expected the file content as text (quote it to say so)`);
      return source.trim();
    }
    return r.error(`expected the file content as text, found ${typeof value}`);
  },
});

const filePath = s.string({
  expected: 'an absolute path',
  check: (p) => {
    if (!p.startsWith('/')) return `expected an absolute path, found the relative path ${JSON.stringify(p)}`;
    if (p.split('/').includes('..')) return `expected a path without '..', found ${JSON.stringify(p)}`;
    if (p.endsWith('/')) return `expected a file path, found the directory ${JSON.stringify(p)}`;
    const clean = p.replace(/\/+/g, '/').replace(/\/\.(?=\/|$)/g, '');
    if (clean === '/usr' || clean.startsWith('/usr/')) return `expected a path outside /usr (the os image is read-only), found ${JSON.stringify(p)}; refusing to write it`;
    return undefined;
  },
});

const writeFileSchema = s.object(
  {
    path: s.required(filePath),
    content: fileContent,
    owner: s.string({ pattern: /^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?(:[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?)?$/, patternText: 'an owner such as root, core or core:core' }),
    permissions: octalMode({ description: 'file mode, default 0644' }),
    encoding: s.enum(Object.keys(encodingSpellings), { description: 'how content is encoded' }),
    append: s.boolean(),
  },
  {
    refine: (v, ctx): WriteFile | undefined => {
      const encoding: FileEncoding = v.encoding === undefined ? 'plain' : encodingSpellings[v.encoding as string]!;
      // One decoder per document: an aliased entry is decoded once, and all contents share one budget.
      const decoded = ctx.shared(ContentDecoder, () => new ContentDecoder()).decode((v.content as string | Uint8Array | undefined) ?? '', encoding);
      if (!decoded.ok) ctx.error(v.content === undefined ? 'encoding' : 'content', `${decoded.message}; refusing to write it`);
      const mode = v.permissions as number | undefined;
      if (mode !== undefined && mode > 0o7777) ctx.error('permissions', `expected a mode up to 07777, found 0${mode.toString(8)}`);
      if (v.path === undefined || !decoded.ok) return undefined;
      return { path: v.path as string, content: decoded.bytes, ...(v.owner !== undefined ? { owner: v.owner as string } : {}), permissions: mode ?? 0o644, append: v.append === true };
    },
  },
);

const unitSuffixes = ['service', 'socket', 'device', 'mount', 'automount', 'swap', 'target', 'path', 'timer', 'slice', 'scope', 'network', 'netdev', 'link'];
const unitName = s.string({
  expected: 'a unit name such as etcd.service',
  check: (n) => {
    const suffix = /\.([a-z]+)$/.exec(n)?.[1];
    if (suffix === undefined || !unitSuffixes.includes(suffix)) return `expected a unit name ending in .${unitSuffixes.join(', .')}, found ${JSON.stringify(n)}`;
    if (!/^[A-Za-z0-9:_.\\@-]+$/.test(n) || n.length > 255) return `expected a unit name of letters, digits and :-_.@\\, found ${JSON.stringify(n)}`;
    return undefined;
  },
});

const dropInSchema = s.object(
  {
    name: s.required(s.string({ pattern: /^[A-Za-z0-9:_.@-]+\.conf$/, patternText: 'a drop-in name ending in .conf' })),
    content: s.string({ coerce: 'never' }),
  },
  { refine: (v): DropIn | undefined => (v.name === undefined ? undefined : { name: v.name as string, content: (v.content as string | undefined) ?? '' }) },
);

/** `coreos.units[]` and `keel.units[]`. */
export const unitSchema = s.object(
  {
    name: s.required(unitName),
    content: s.string({ coerce: 'never' }),
    enable: s.boolean(),
    runtime: s.boolean(),
    mask: s.boolean(),
    drop_ins: s.list(dropInSchema),
    command: s.enum([...unitCommands]),
  },
  {
    refine: (v, ctx): Unit | undefined => {
      if (v.mask === true && v.enable === true) ctx.error('mask', 'a unit cannot be both masked and enabled; expected one of mask or enable');
      if (v.mask === true && v.content !== undefined) ctx.warn('mask', 'a masked unit never runs; its content is written but ignored by systemd');
      if (v.name === undefined) return undefined;
      const unit: Unit = { name: v.name as string, dropIns: (v.drop_ins as DropIn[] | undefined) ?? [] };
      if (v.content !== undefined) unit.content = v.content as string;
      if (v.enable !== undefined) unit.enable = v.enable as boolean;
      if (v.runtime !== undefined) unit.runtime = v.runtime as boolean;
      if (v.mask !== undefined) unit.mask = v.mask as boolean;
      if (v.command !== undefined) unit.command = v.command as UnitCommand;
      return unit;
    },
  },
);

/** runcmd/bootcmd entries: a shell line, or an argv list run without a shell. */
const commandLine = s.union([s.string({ minLength: 1, coerce: 'warn' }), s.list(text, { minItems: 1, expected: 'a list of words' })], {
  expected: 'a command string or a list of words',
});
const commandList = s.list(commandLine, { expected: 'a list of commands' });

const oemSchema = s.object(
  { id: text, name: text, version_id: text, home_url: text, bug_report_url: text },
  { description: 'written to /etc/oem-release' },
);

const notInKeel = (what: string, instead: string) => `${what} is not supported by keel (${instead}); ignoring it`;

const coreosSchema = s.object(
  {
    units: s.list(unitSchema),
    update: coreosUpdateSchema,
    locksmith: coreosLocksmithSchema,
    etcd2: etcdSchema,
    oem: oemSchema,
    etcd: s.deprecated(s.any(), notInKeel('coreos.etcd (etcd v1)', 'use coreos.etcd2 or keel.etcd'), { ignored: true }),
    fleet: s.deprecated(s.any(), notInKeel('coreos.fleet', 'run containers with keel.containers'), { ignored: true }),
    flannel: s.deprecated(s.any(), notInKeel('coreos.flannel', 'set up container networking in keel.containers'), { ignored: true }),
  },
  { description: 'CoreOS settings, read with their CoreOS names' },
);

const keelSchema = s.object(
  {
    update: keelUpdateSchema,
    lock: keelLockSchema,
    etcd: etcdSchema,
    units: s.list(unitSchema),
    containers: containersSchema,
  },
  { description: "keel's own settings; they win over coreos: where both set a field" },
);

/**
 * cloud-init modules a container host does not run: named so a config written for cloud-init
 * gets a clear warning instead of "unknown key", and is otherwise accepted.
 */
const cloudInitOnly = [
  'apt', 'ca_certs', 'chpasswd', 'disable_root', 'disk_setup', 'final_message', 'fs_setup', 'groups', 'growpart',
  'locale', 'mounts', 'ntp', 'package_reboot_if_required', 'package_update', 'package_upgrade', 'packages',
  'phone_home', 'power_state', 'resize_rootfs', 'rsyslog', 'snap', 'ssh_pwauth', 'yum_repos',
];
const cloudInitFields = Object.fromEntries(
  cloudInitOnly.map((k) => [k, s.deprecated(s.any(), `${k} is a cloud-init module keel does not run (a keel host has no package manager and is set up by this config and its image); ignoring it`, { ignored: true })]),
);

/** Where keel: and coreos: both set a field to different values, say which one is used (keel:'s). */
function warnOverrides(v: Record<string, unknown>, ctx: RefineContext): void {
  const coreos = (v.coreos ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const keel = (v.keel ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  for (const [from, to] of [['update', 'update'], ['locksmith', 'lock']] as const) {
    const a = coreos[from];
    const b = keel[to];
    if (!a || !b) continue;
    for (const [field, value] of Object.entries(b))
      if (Object.hasOwn(a, field) && JSON.stringify(a[field]) !== JSON.stringify(value))
        ctx.at(['keel', to, snake(field)], 'warning', `overrides ${JSON.stringify(a[field])} from coreos.${from}; keel: wins`);
  }
  const etcd2 = (coreos.etcd2 as { environment?: Record<string, string> } | undefined)?.environment;
  const etcd = (keel.etcd as { environment?: Record<string, string> } | undefined)?.environment;
  for (const [name, value] of Object.entries(etcd ?? {}))
    if (etcd2 && Object.hasOwn(etcd2, name) && etcd2[name] !== value)
      ctx.at(['keel', 'etcd', name.slice('ETCD_'.length).toLowerCase()], 'warning', `overrides ${JSON.stringify(etcd2[name])} from coreos.etcd2; keel: wins`);
}

/** The whole document. The walked value is an object of model pieces keyed by canonical names. */
export const cloudConfigSchema = s.object(
  {
    hostname,
    manage_etc_hosts: s.enum(['localhost'], { description: 'localhost: write 127.0.0.1 <hostname> to /etc/hosts' }),
    ssh_authorized_keys: sshKeys,
    users: s.list(userSchema),
    write_files: s.list(writeFileSchema),
    runcmd: commandList,
    bootcmd: commandList,
    timezone,
    coreos: coreosSchema,
    keel: keelSchema,
    ...cloudInitFields,
  },
  {
    description: 'keel cloud-config (#cloud-config)',
    refine: (v, ctx) => {
      warnOverrides(v, ctx);
      reportEtcdChecks(v, ctx);
      const total = ((v.write_files as (WriteFile | undefined)[] | undefined) ?? []).reduce((sum, f) => sum + (f?.content.length ?? 0), 0);
      if (total > maxFileContentBytes) ctx.error('write_files', `the files hold ${total} bytes together; expected at most ${maxFileContentBytes}; refusing to write them`);
      return v;
    },
  },
);

export type { CommandLine };
