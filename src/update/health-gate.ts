import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileCrashSafe } from '../host/crash-safe-write.js';
import { runCommand, type CommandResult, type RunCommand } from '../host/process.js';

/**
 * The health gate `keel-health-check.service` runs before boot-complete.target: no failed
 * units, keel's enabled services not failed, and every executable check in
 * /usr/lib/keel/health.d/ and /etc/keel/health.d/ (a file in /etc replaces the one of the
 * same name in /usr/lib; an empty or /dev/null one disables it) exits 0. The verdict goes to
 * /run/keel/health.json, where the agent reads it; a failing gate keeps the boot unblessed.
 */
export interface HealthCheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

export interface HealthVerdict {
  ok: boolean;
  at: string;
  checks: HealthCheckResult[];
}

export const healthDirs = ['usr/lib/keel/health.d', 'etc/keel/health.d'];
export const verdictPath = 'run/keel/health.json';

/** The checks to run: name → path, /etc shadowing /usr/lib. */
export async function healthChecksUnder(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const dir of healthDirs) {
    for (const name of (await readdir(join(root, dir)).catch(() => [] as string[])).sort()) {
      if (name.startsWith('.')) continue;
      out.set(name, join(root, dir, name));
    }
  }
  return out;
}

/** How the gate runs: with or without systemd's unit check, and through which process edge. */
export interface HealthGateOptions {
  /** Check systemd's failed units (false when no systemd runs under the root). */
  systemd: boolean;
  timeoutMs?: number;
  ignoreUnits?: string[];
  /** The process edge; tests pass a fake. */
  run?: RunCommand;
}

/** Runs the user checks (each with a timeout) and, when `systemd` is true, the unit checks. */
export async function runHealthGate(root: string, options: HealthGateOptions): Promise<HealthVerdict> {
  const run = options.run ?? runCommand;
  const checks: HealthCheckResult[] = [];
  if (options.systemd) checks.push(await failedUnitsCheck(run, options.ignoreUnits ?? []));
  for (const [name, path] of await healthChecksUnder(root)) {
    const check = await userCheck(run, name, path, options.timeoutMs ?? 60_000);
    if (check) checks.push(check);
  }
  return { ok: checks.every((c) => c.ok), at: new Date().toISOString(), checks };
}

/** systemd's failed units, less the ones asked to be ignored (the gate's own unit). */
async function failedUnitsCheck(run: RunCommand, ignore: string[]): Promise<HealthCheckResult> {
  const name = 'no failed units';
  let r: CommandResult;
  try {
    r = await run('systemctl', ['list-units', '--state=failed', '--no-legend', '--plain', '--no-pager']);
  } catch (error) {
    return { name, ok: false, detail: (error as Error).message };
  }
  const units = r.stdout.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter((u) => u && !ignore.includes(u));
  return { name, ok: r.exitCode === 0 && units.length === 0, detail: units.length ? `failed: ${units.join(', ')}` : r.exitCode === 0 ? 'none failed' : r.stderr.trim() };
}

/** One executable check; undefined for a masked one (empty, or not a regular file). */
async function userCheck(run: RunCommand, name: string, path: string, timeoutMs: number): Promise<HealthCheckResult | undefined> {
  const info = await stat(path).catch(() => undefined);
  if (!info || info.size === 0 || !info.isFile()) return undefined;
  if ((info.mode & 0o111) === 0) return { name, ok: false, detail: `${path} is not executable` };
  let r: CommandResult;
  try {
    r = await run(path, [], { timeoutMs });
  } catch (error) {
    return { name, ok: false, detail: (error as Error).message };
  }
  // The last lines of what it printed, stdout then stderr, tell an operator why it failed.
  const tail = [r.stdout.trim(), r.stderr.trim()].filter(Boolean).join('\n').split('\n').slice(-3).join(' | ');
  const ended = r.signal ? 'signal' : r.exitCode;
  return { name, ok: r.exitCode === 0, detail: r.timedOut ? `timed out after ${timeoutMs} ms` : `exit ${ended}${tail ? `: ${tail}` : ''}` };
}

/** Writes the verdict where the agent reads it. */
export async function writeVerdict(root: string, verdict: HealthVerdict): Promise<void> {
  const path = join(root, verdictPath);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFileCrashSafe(path, Buffer.from(JSON.stringify(verdict, null, 2) + '\n'));
}

/** The verdict of this boot, or undefined while the gate has not run. */
export async function readVerdict(root: string): Promise<HealthVerdict | undefined> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(join(root, verdictPath), 'utf8'));
  } catch {
    return undefined;
  }
  // A verdict without a boolean `ok` (damaged or hand-made) counts as no verdict yet.
  const ok = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>).ok : undefined;
  return typeof ok === 'boolean' ? (parsed as HealthVerdict) : undefined;
}
