/**
 * Network namespaces for test etcd members (needs root): a bridge on a random 10.2xx.y.0/24
 * with the host at .1, and per member a namespace whose eth0 (.2, .3, …) is a veth paired
 * with a host-side end on the bridge. Taking that host end down cuts the member off from
 * its peers and clients. What was made is deleted by `remove()` (or `removeSync()` when the
 * test process exits without stopping the cluster).
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { EtcdMember } from './etcd-member.js';

const exec = promisify(execFile);

/** Runs a host command; throws naming it with its stderr when it fails. */
export async function run(cmd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await exec(cmd, args, { encoding: 'utf8' });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`, { cause: error });
  }
}

export class EtcdNetwork {
  private netns: string[] = [];
  private bridge?: string;
  private subnet = '';

  /** `tag` makes the names of the bridge, namespaces and veths unique to one cluster. */
  constructor(private readonly tag: string) {}

  async createBridge(): Promise<void> {
    this.subnet = `10.${200 + (randomBytes(1)[0]! % 50)}.${randomBytes(1)[0]! % 250}`;
    this.bridge = `kbr${this.tag}`;
    await run('ip', ['link', 'add', this.bridge, 'type', 'bridge']);
    await run('ip', ['addr', 'add', `${this.subnet}.1/24`, 'dev', this.bridge]);
    await run('ip', ['link', 'set', this.bridge, 'up']);
  }

  /** Member `i`'s namespace on the bridge; sets its netns and hostVeth and returns its address. */
  async addMember(i: number, member: EtcdMember): Promise<string> {
    const ns = `kns${this.tag}${i}`;
    const hostVeth = `kvh${this.tag}${i}`;
    await run('ip', ['netns', 'add', ns]);
    this.netns.push(ns);
    await run('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await run('ip', ['link', 'set', hostVeth, 'master', this.bridge!, 'up']);
    const host = `${this.subnet}.${i + 2}`;
    await run('ip', ['-n', ns, 'addr', 'add', `${host}/24`, 'dev', 'eth0']);
    await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    member.netns = ns;
    member.hostVeth = hostVeth;
    return host;
  }

  /** Deletes the namespaces and the bridge; errors (already gone) are ignored. */
  async remove(): Promise<void> {
    for (const ns of this.netns) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    if (this.bridge) await run('ip', ['link', 'del', this.bridge]).catch(() => undefined);
    this.netns = [];
    this.bridge = undefined;
  }

  /** `remove()` for a process `exit` handler, where nothing asynchronous runs. */
  removeSync(): void {
    const commands = [...this.netns.map((ns) => ['netns', 'del', ns]), ...(this.bridge ? [['link', 'del', this.bridge]] : [])];
    for (const args of commands) {
      try {
        execFileSync('ip', args, { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
  }
}

/** Takes the member's link down: cut off from peers and clients. */
export async function partition(m: EtcdMember): Promise<void> {
  if (!m.hostVeth) throw new Error('partition needs a cluster started with netns: true');
  await run('ip', ['link', 'set', m.hostVeth, 'down']);
}

/** Brings the member's link up again. */
export async function heal(m: EtcdMember): Promise<void> {
  if (!m.hostVeth) throw new Error('heal needs a cluster started with netns: true');
  await run('ip', ['link', 'set', m.hostVeth, 'up']);
}
