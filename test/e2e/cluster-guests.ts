/**
 * The cluster e2e's hands on its guests: commands over SSH as `core` (sudo without a password),
 * polling until something holds, the update agent's status, etcdctl of the test machine against
 * one member through its forwarded client port (the image has no etcdctl), and the journal of
 * keel's units kept beside a guest's console log when a step fails.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Vm } from '../harness/qemu.js';
import type { ClusterHost } from './cluster-observer.js';
import { updateStatus, waitUpdateStatus } from './update-status.js';

const minute = 60_000;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function sh(h: ClusterHost | Vm, command: string, timeoutMs = 2 * minute): Promise<string> {
  const vm = 'vm' in h ? h.vm : h;
  return (await vm.ssh(command, { user: 'core', commandTimeoutMs: timeoutMs })).stdout.trim();
}

/** Polls `probe` until it returns something other than undefined; a throw is remembered as why not. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, periodMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const r = await probe();
      if (r !== undefined) return r;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(periodMs);
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? `; last: ${String(last).slice(0, 2000)}` : ''}`);
}

/** `keel update status --json` on the host. */
export const status = (h: ClusterHost): Promise<any> => updateStatus(h.vm, 'core');

/** Polls the status until `done` holds; fails with the last status. */
export const waitStatus = (h: ClusterHost, what: string, done: (s: any) => boolean, timeoutMs: number): Promise<any> => waitUpdateStatus(h.vm, `${h.name}: ${what}`, done, timeoutMs, 'core');

/** etcdctl (the test machine's) against one member, through its forwarded client port. */
export async function etcdctl(h: ClusterHost, tls: { cafile: string; certfile: string; keyfile: string }, args: string[]): Promise<string> {
  const r = await execa('etcdctl', ['--endpoints', `https://127.0.0.1:${h.vm.hostPort(2379)}`, '--cacert', tls.cafile, '--cert', tls.certfile, '--key', tls.keyfile, '--command-timeout=10s', ...args], { env: { ETCDCTL_API: '3' }, reject: false });
  if (r.exitCode !== 0) throw new Error(`etcdctl ${args.join(' ')} via ${h.name}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/**
 * Marks the guest failed (its logs stay) and saves its journal of keel's units, etcd and networkd
 * beside them. Returns the update agent's last lines, for the one log CI shows the end of.
 */
export async function saveJournal(vm: Vm, stepName: string): Promise<string[]> {
  vm.failed = true;
  if (!vm.running) return ['not running'];
  const units = ['keel-update', 'etcd', 'keel-supervisor', 'keel-cloudinit', 'keel-health-check', 'systemd-networkd', 'keel-container-web'].map((u) => `-u ${u}`).join(' ');
  const r = await vm
    .ssh(`sudo -n journalctl -b --no-pager -o short-monotonic ${units} | tail -400; sudo -n keel update status --json; systemctl --failed --no-legend; ip -br addr; networkctl --no-pager`, { user: 'core', commandTimeoutMs: 60_000, connectTimeoutMs: 20_000, allowFailure: true })
    .catch((e: Error) => ({ stdout: '', stderr: e.message }));
  await writeFile(join(vm.logDir, `journal-${stepName.replace(/\W+/g, '-')}.txt`), `${r.stdout}\n${r.stderr}`).catch(() => undefined);
  // Asked on its own: in the journal above every keel unit's lines say `keel[PID]`.
  const agent = await vm
    .ssh('sudo -n journalctl -b -u keel-update -n 2 --no-pager -o cat', { user: 'core', commandTimeoutMs: 30_000, connectTimeoutMs: 20_000, allowFailure: true })
    .then((a) => a.stdout.split('\n').filter(Boolean).map((l) => l.slice(0, 300)))
    .catch((e: Error) => [`no answer: ${e.message.split('\n')[0]}`]);
  return agent.length > 0 ? agent : ['no keel-update lines in this boot'];
}
