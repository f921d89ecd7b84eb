import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

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

/** Runs the user checks (each with a timeout) and, when `systemd` is true, the unit checks. */
export async function runHealthGate(root: string, options: { systemd: boolean; timeoutMs?: number; ignoreUnits?: string[] }): Promise<HealthVerdict> {
  const checks: HealthCheckResult[] = [];
  if (options.systemd) {
    const failed = await execa('systemctl', ['list-units', '--state=failed', '--no-legend', '--plain', '--no-pager'], { reject: false });
    const units = failed.stdout.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter((u) => u && !(options.ignoreUnits ?? []).includes(u));
    checks.push({ name: 'no failed units', ok: failed.exitCode === 0 && units.length === 0, detail: units.length ? `failed: ${units.join(', ')}` : failed.exitCode === 0 ? 'none failed' : failed.stderr.trim() });
  }
  for (const [name, path] of await healthChecksUnder(root)) {
    const info = await stat(path).catch(() => undefined);
    if (!info || info.size === 0 || !info.isFile()) continue; // masked
    if ((info.mode & 0o111) === 0) {
      checks.push({ name, ok: false, detail: `${path} is not executable` });
      continue;
    }
    const run = await execa(path, [], { reject: false, timeout: options.timeoutMs ?? 60_000, all: true });
    const tail = (run.all ?? '').trim().split('\n').slice(-3).join(' | ');
    checks.push({ name, ok: run.exitCode === 0, detail: run.timedOut ? `timed out after ${options.timeoutMs ?? 60_000} ms` : `exit ${run.exitCode ?? 'signal'}${tail ? `: ${tail}` : ''}` });
  }
  return { ok: checks.every((c) => c.ok), at: new Date().toISOString(), checks };
}

/** Writes the verdict where the agent reads it. */
export async function writeVerdict(root: string, verdict: HealthVerdict): Promise<void> {
  const path = join(root, verdictPath);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(`${path}.tmp`, JSON.stringify(verdict, null, 2) + '\n');
  await rename(`${path}.tmp`, path);
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
