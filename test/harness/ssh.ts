/**
 * SSH into test guests: one throwaway ed25519 key per test process, and `ssh` calls that
 * retry while the guest's sshd is not up yet (qemu's user-mode forward accepts the TCP
 * connection and then resets it, which ssh reports as exit 255).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, execaSync } from 'execa';

export interface SshKey {
  privateKeyPath: string;
  /** The `ssh-ed25519 AAAA… comment` line to put in a cloud-config. */
  publicKey: string;
}

let key: SshKey | undefined;

/** The test process's key, made on first use and deleted when the process exits. */
export function testSshKey(): SshKey {
  if (key) return key;
  const dir = mkdtempSync(join(tmpdir(), 'keel-ssh-'));
  const privateKeyPath = join(dir, 'id_ed25519');
  execaSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'keel-test', '-f', privateKeyPath]);
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  key = { privateKeyPath, publicKey: readFileSync(`${privateKeyPath}.pub`, 'utf8').trim() };
  return key;
}

/** ssh's arguments for one command on 127.0.0.1:port (pure). */
export function sshArgs(opts: { port: number; user: string; keyPath: string; connectTimeoutS: number }, command: string): string[] {
  return [
    '-i', opts.keyPath,
    '-p', String(opts.port),
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'BatchMode=yes',
    '-o', 'LogLevel=ERROR',
    '-o', `ConnectTimeout=${opts.connectTimeoutS}`,
    '-o', 'ServerAliveInterval=5',
    '-o', 'ServerAliveCountMax=6',
    `${opts.user}@127.0.0.1`,
    '--',
    command,
  ];
}

export interface SshResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface SshOptions {
  user?: string;
  /** Give up connecting after this long (the command itself then has `commandTimeoutMs`). */
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  /** Return a non-zero exit instead of throwing. */
  allowFailure?: boolean;
  input?: string;
}

/**
 * Runs `command` in the guest through the forwarded port, retrying connection failures
 * (exit 255) until `connectTimeoutMs`. Throws on a non-zero exit unless `allowFailure`.
 */
export async function sshRun(port: number, command: string, opts: SshOptions = {}, isAlive: () => boolean = () => true): Promise<SshResult> {
  const k = testSshKey();
  const user = opts.user ?? 'root';
  const deadline = Date.now() + (opts.connectTimeoutMs ?? 180_000);
  let last: SshResult = { stdout: '', stderr: 'never tried', exitCode: 255 };
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error(`ssh ${user}@127.0.0.1:${port}: the VM is not running; last ssh error: ${last.stderr.trim()}`);
    const r = await execa('ssh', sshArgs({ port, user, keyPath: k.privateKeyPath, connectTimeoutS: 10 }, command), {
      reject: false,
      timeout: opts.commandTimeoutMs ?? 300_000,
      input: opts.input ?? '',
      stripFinalNewline: false,
    });
    last = { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? 255 };
    if (r.timedOut) throw new Error(`ssh ${user}@…:${port} '${command}': timed out after ${opts.commandTimeoutMs ?? 300_000} ms`);
    if (last.exitCode !== 255) break;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  if (last.exitCode === 255)
    throw new Error(`ssh ${user}@127.0.0.1:${port}: could not connect within ${opts.connectTimeoutMs ?? 180_000} ms: ${last.stderr.trim()}`);
  if (last.exitCode !== 0 && !opts.allowFailure)
    throw new Error(`ssh '${command}' exited ${last.exitCode}\nstdout: ${last.stdout.trim()}\nstderr: ${last.stderr.trim()}`);
  return last;
}
