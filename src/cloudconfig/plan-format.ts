/**
 * How a plan is shown: one operation per line for people, and JSON for programs (file
 * contents as text when they are UTF-8 without control characters, base64 otherwise,
 * with size and sha256 either way).
 */
import { createHash } from 'node:crypto';
import type { FileBody, Operation } from './operation.js';
import type { Plan } from './plan.js';
import { shellLine } from './plan-commands.js';

const octal = (mode: number) => `0${mode.toString(8).padStart(3, '0')}`;

function fileSummary(f: FileBody): string {
  return `${f.path} ${octal(f.mode)} ${f.owner ?? 'root:root'} ${f.content.length} bytes${f.append ? ' (append)' : ''}`;
}

/** One line describing an operation, e.g. `write-unit /etc/systemd/system/app.service 0644 root:root 120 bytes`. */
export function describeOperation(op: Operation): string {
  switch (op.kind) {
    case 'run-bootcmd':
    case 'run-commands':
      return `${op.kind} ${op.commands.map((c) => JSON.stringify(shellLine(c))).join(' ; ')}`;
    case 'set-hostname':
    case 'write-hosts':
      return `${op.kind} ${op.hostname} (${op.file.path})`;
    case 'set-timezone':
      return `set-timezone ${op.zone} (${op.link.path} -> ${op.link.target}, ${op.file.path})`;
    case 'create-group':
      return `create-group ${op.name}${op.system ? ' (system)' : ''} if missing`;
    case 'create-user': {
      const u = op.user;
      const extra = [u.system ? 'system' : '', u.groups.length ? `groups ${u.groups.join(',')}` : '', u.groupsIfPresent?.length ? `groups if present ${u.groupsIfPresent.join(',')}` : ''].filter(Boolean);
      return `create-user ${u.name} if missing${extra.length ? ` (${extra.join('; ')})` : ''}`;
    }
    case 'set-password':
      return `set-password ${op.user}${op.hash !== undefined ? ' (new hash)' : ''}${op.lock ? ' (locked)' : ''}`;
    case 'install-ssh-keys':
      return `install-ssh-keys ${op.user} (${op.keys.length} key${op.keys.length === 1 ? '' : 's'})`;
    case 'write-sudoers':
      return `write-sudoers ${op.user} ${fileSummary(op.file)}`;
    case 'write-keel-config':
      return `write-keel-config ${op.purpose} ${fileSummary(op.file)}`;
    case 'write-file':
    case 'write-oem-release':
    case 'write-etcd-environment':
      return `${op.kind} ${fileSummary(op.file)}`;
    case 'write-unit':
      return `write-unit ${fileSummary(op.file)}`;
    case 'write-drop-in':
      return `write-drop-in ${fileSummary(op.file)}`;
    case 'mask-unit':
      return `mask-unit ${op.unit} (${op.path} -> /dev/null)`;
    case 'enable-unit':
      return `enable-unit ${op.unit}${op.runtime ? ' (runtime)' : ''}`;
    case 'daemon-reload':
      return 'daemon-reload';
    case 'unit-command':
      return `unit-command ${op.command} ${op.unit}${op.noBlock ? ' (no-block)' : ''}`;
    case 'run-script':
      return `run-script ${op.path} as ${op.unitName}`;
    case 'record-instance':
      return `record-instance ${op.instanceId}`;
  }
}

/** The human form of a plan: a header, numbered operations, then notes. */
export function formatPlan(plan: Plan): string {
  const lines = [`# instance ${plan.instanceId} (user-data sha256 ${plan.userDataSha256.slice(0, 16)}…), ${plan.live ? 'live host' : 'offline root'}: ${plan.operations.length} operations`];
  const width = String(plan.operations.length).length;
  plan.operations.forEach((op, i) => lines.push(`${String(i + 1).padStart(width)} ${describeOperation(op)}`));
  for (const n of plan.notes) lines.push(`note: ${n}`);
  return lines.join('\n') + '\n';
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

function contentJson(content: Uint8Array): Record<string, unknown> {
  const sha256 = createHash('sha256').update(content).digest('hex');
  try {
    const text = textDecoder.decode(content);
    // eslint-disable-next-line no-control-regex
    if (!/[\u0000-\u0008\u000b-\u001f\u007f]/.test(text)) return { size: content.length, sha256, content: text };
  } catch {
    // not UTF-8: base64 below
  }
  return { size: content.length, sha256, contentBase64: Buffer.from(content).toString('base64') };
}

/** An operation as plain JSON (bytes shown as text or base64, modes as octal strings). */
export function operationJson(op: Operation): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(op)) {
    if (k === 'file') {
      const f = v as FileBody;
      out.file = { path: f.path, mode: octal(f.mode), owner: f.owner ?? 'root:root', ...(f.append ? { append: true } : {}), ...contentJson(f.content) };
    } else out[k] = v;
  }
  return out;
}

/** The JSON form of a plan. */
export function planJson(plan: Plan): Record<string, unknown> {
  return { instanceId: plan.instanceId, userDataSha256: plan.userDataSha256, live: plan.live, operations: plan.operations.map(operationJson), notes: plan.notes };
}
