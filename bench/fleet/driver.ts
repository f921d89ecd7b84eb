// The fleet benchmark (bundled and run by bench/fleet.bench.mjs). Each scenario gets a fresh
// three-member etcd cluster, so its memory and history are its own. Simulated agents run
// keel's own lock (SemaphoreLock over EtcdLockStore, each with its own lease) and rollout
// code (FleetStore: node records on their own lease, rollout starts, successes and
// failures, the brake), sharing one etcd client per worker process. A "reboot" is a sleep.
// Waiters: keel's queue with hand-off; polling (locksmith: try, sleep, try again); competing
// with no queue (airlock's clients: everyone tries whenever the semaphore changes).
import { fork } from 'node:child_process';
import { cpuSeconds, maxHoldersInHistory, metrics, peakMemoryMiB } from '../lib/etcd-figures.js';
import { readFileSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdCluster } from '../../test/harness/etcd.js';
import { EtcdLockStore, etcdOptions, type EtcdRequestKind } from '../../src/lock/etcd-store.js';
import { SemaphoreLock } from '../../src/lock/semaphore-lock.js';
import type { Rider } from '../../src/lock/reboot-lock.js';
import { semaphoreKey } from '../../src/lock/group-keys.js';
import { KeelError } from '../../src/errors.js';
import { sleep } from '../../src/backoff.js';
import { FleetStore } from '../../src/fleet/fleet-store.js';
import { parseRolloutPolicy } from '../../src/fleet/rollout-policy.js';
import { AgentFleet } from '../../src/update/agent-fleet.js';
import type { Logger } from '../../src/log.js';

type Mode = 'keel' | 'poll' | 'compete';

interface Scenario {
  name: string;
  mode: Mode;
  agents: number;
  slots: number;
  rebootMs: number;
  pollMs: number;
  /** Every n-th agent fails its health gate (0: none). */
  failEvery: number;
  maxFailures: string;
  /** Stop the roll after this long (peers that would take far longer). */
  capMs: number;
  /** Agents stage the release at even steps over this long, as they would over their check intervals. */
  arrivalMs: number;
  /** Rolls of this scenario back to back, each on a fresh cluster (the day's spread is wide: docs/fleet.md). */
  runs: number;
}

interface Role {
  endpoints: string[];
  group: string;
  scenario: Scenario;
  first: number;
  count: number;
}

interface WorkerResult {
  rebooted: number;
  heldBack: number;
  unfinished: number;
  waitMs: number;
  /** Lock requests from the start of the wait to the grant (the wait's own interval). */
  waitRequests: number;
  /** Lock requests from the grant to acquire's return (the hand-off's confirmation). */
  confirmRequests: number;
  lockRequests: number;
  unaryRequests: number;
  /** Wall-clock start of each reboot (ms since the epoch), for the brake's figure. */
  rebootStarts: number[];
  /** Summed time of releases (call to resolution) and from grant to reboot start, ms, for the turn's breakdown. */
  releaseMs: number;
  grantToRebootMs: number;
  /** Requests while waiting, by kind. */
  waitKinds: Record<string, number>;
  /** The lock's requests by kind over the whole roll. */
  lockKinds: Record<string, number>;
  /** Warnings the agents' fleet side logged (a record write retried, a count that failed). */
  warnings: number;
  /** CPU seconds the worker process used during the roll. */
  cpuS: number;
  /** Times etcd3 closed a member's gRPC clients after an error (open streams go on: docs/fleet.md). */
  resets: number;
  /** A peer's tries that etcd did not answer in time, tried again at its next turn (as locksmith does). */
  failedTries: number;
  errors: string[];
}

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const version = '2.0.0';

// ---------------------------------------------------------------- worker: the agents
async function worker(): Promise<void> {
  const role = JSON.parse(process.env.FLEET_BENCH_ROLE!) as Role;
  const s = role.scenario;
  // Deadlines of 5 s, not the agent's 700 ms: 10,000 agents on one small machine load it far
  // beyond what one host's agent sees, and a deadline storm would measure the machine.
  const client = new Etcd3({ ...etcdOptions({ endpoints: role.endpoints, callTimeoutMs: 5000 }) });
  // Every unary call of this process (lock and records) goes through the pool: count them there.
  const pool = (client as unknown as { pool: { exec: (...a: unknown[]) => Promise<unknown> } }).pool;
  let unary = 0;
  const exec = pool.exec.bind(pool);
  pool.exec = (...a: unknown[]) => {
    unary++;
    return exec(...a);
  };
  // etcd3 closes every gRPC client of a member after any recoverable error there, a deadline
  // passed included (calls in flight, open watches among them, go on): count how often.
  let resets = 0;
  for (const host of (pool as unknown as { hosts: { resetAllServices(): void }[] }).hosts) {
    const reset = host.resetAllServices.bind(host);
    host.resetAllServices = () => {
      resets++;
      reset();
    };
  }
  await client.get('warm-up');
  const semKey = semaphoreKey(role.group);
  // Competing waiters share one watch of the semaphore per process, as one client would.
  let changed: { promise: Promise<void>; resolve: () => void } | undefined;
  const nextChange = () => {
    if (!changed) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      changed = { promise, resolve };
    }
    return changed.promise;
  };
  if (s.mode === 'compete') {
    const w = await client.watch().key(semKey).create();
    w.on('data', () => {
      const c = changed;
      changed = undefined;
      c?.resolve();
    });
  }
  const result: WorkerResult = { rebooted: 0, heldBack: 0, unfinished: 0, waitMs: 0, waitRequests: 0, confirmRequests: 0, lockRequests: 0, unaryRequests: 0, releaseMs: 0, grantToRebootMs: 0, rebootStarts: [], waitKinds: {}, lockKinds: {}, warnings: 0, cpuS: 0, resets: 0, failedTries: 0, errors: [] };
  const policy = parseRolloutPolicy({ maxFailures: s.maxFailures });
  const agents = Array.from({ length: role.count }, (_, i) => role.first + i);
  const quiet: Logger = { error: () => result.warnings++, warning: () => result.warnings++, notice: () => undefined, info: () => undefined, debug: () => undefined } as unknown as Logger;
  const fleets = agents.map(() => new FleetStore({ client }, { nodeLeaseSeconds: 60 }));
  // The peers' clients try again after etcd did not answer (locksmith at its next interval,
  // airlock's clients at their next check), counted; keel's own agents fail the bench.
  const peerTriesAgain = (error: unknown) => {
    const again = s.mode !== 'keel' && error instanceof KeelError && error.kind === 'unavailable';
    if (again) result.failedTries++;
    return again;
  };
  process.send!('ready');
  const deadline = await new Promise<number>((r) => process.once('message', (m) => r((m as { deadline: number }).deadline)));
  const before = unary;
  const cpuBefore = process.cpuUsage();
  // Progress for the main process (FLEET_BENCH_PROGRESS=1 prints it): rebooted so far.
  const progress = setInterval(() => process.send!({ progress: result.rebooted + result.heldBack }), 5000);
  await Promise.all(
    agents.map(async (n, i) => {
      const id = `node-${String(n).padStart(5, '0')}`;
      /** Where a lock request counts: while waiting (to the grant), or confirming the grant. */
      let phase: 'waiting' | 'confirming' | undefined;
      /** When the grant's watch event came (the confirmation sent on it), or the slot was taken directly. */
      let grantedAt: number | undefined;
      const fleet = fleets[i]!;
      const store = new EtcdLockStore(
        { endpoints: role.endpoints, callTimeoutMs: 5000 },
        {
          client,
          // One lease per agent, as the agent has: the queue key rides on the node record's.
          lease: () => fleet.nodeLeaseId(),
          onRequest: (kind: EtcdRequestKind) => {
            // A confirmation is sent on the grant's watch event: the wait ends there.
            if (kind === 'confirm' && phase === 'waiting') ((grantedAt = performance.now()), (phase = 'confirming'));
            result.lockRequests++;
            result.lockKinds[kind] = (result.lockKinds[kind] ?? 0) + 1;
            if (phase === 'confirming') result.confirmRequests++;
            if (phase === 'waiting') {
              result.waitRequests++;
              result.waitKinds[kind] = (result.waitKinds[kind] ?? 0) + 1;
            }
          },
        },
      );
      const lock = new SemaphoreLock({ store, group: role.group, safetyWakeMs: 10_000, operationTimeoutMs: 120_000 });
      const machineId = id.replace('node-', '').padStart(32, '0');
      // The agent's own fleet side: records written in the background and retried, rollout marks.
      const agentFleet = new AgentFleet({ store: fleet, group: role.group, machineId, policy, log: quiet, hostname: id });
      const publish = (state: string, extra: Record<string, unknown> = {}) =>
        agentFleet.publish({ version: '1.0.0', slot: 'a', state, stateSince: new Date().toISOString(), staged: version, ...extra });
      try {
        await sleep((n / s.agents) * s.arrivalMs);
        publish('staged');
        // As the agent does (agent-host.ts takeLock): one key read of the rollout's halt before
        // asking for a slot. (This bench used to read the whole rollout here, every node's marks
        // with it: O(agents) bytes an arrival, which timed out at 3,000 agents.)
        if (await agentFleet.haltOf(version)) {
          result.heldBack++;
          return;
        }
        const stop = AbortSignal.timeout(Math.max(1, deadline - Date.now()));
        const stopped = new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve(), { once: true }));
        const t0 = performance.now();
        // The start is recorded as the slot is granted, as the agent does (agent-host.ts
        // takeLock): its mark rides in the confirmation of a slot handed over while the
        // rollout has no stored value (AcquireOptions.rider), else it follows. The wait ends
        // at the grant (its watch event, or a direct take).
        let start: Awaited<ReturnType<AgentFleet['started']>> | undefined;
        const starting = agentFleet.startWithSlot(version);
        const rider = starting.rider;
        const whenGranted = async (rode: boolean) => {
          grantedAt ??= performance.now();
          phase = 'confirming';
          await starting.whenGranted(rode);
          start = await starting.outcome();
        };
        phase = 'waiting';
        try {
          if (s.mode === 'keel') await lock.acquire(id, { signal: stop, whenGranted, rider });
          else {
            for (;;) {
              try {
                await lock.acquire(id, { wait: false, signal: stop, whenGranted });
                break;
              } catch (error) {
                if (stop.aborted || !((error instanceof KeelError && error.kind === 'conflict') || peerTriesAgain(error))) throw error;
                if (s.mode === 'poll') await sleep(s.pollMs * (0.5 + Math.random()), stop);
                else await Promise.race([nextChange(), stopped]);
              }
            }
          }
        } catch (error) {
          if (stop.aborted) {
            result.unfinished++;
            result.waitMs += performance.now() - t0;
            return;
          }
          throw error;
        } finally {
          phase = undefined;
        }
        result.waitMs += (grantedAt ?? performance.now()) - t0;
        if (!start) throw new Error('the lock was taken without its whenGranted');
        if (!start.ok && !start.halted) throw new Error(start.reason);
        if (!start.ok) {
          // The rollout halted while we waited: give the slot back, stay on the running version.
          await lock.release(id);
          result.heldBack++;
          return;
        }
        publish('rebooting', { rebootSlot: { since: new Date().toISOString() } });
        result.rebootStarts.push(Date.now());
        result.grantToRebootMs += performance.now() - grantedAt!;
        await sleep(s.rebootMs);
        const healthy = s.failEvery === 0 || n % s.failEvery !== s.failEvery - 1;
        // As the agent does (agent-host.ts markGood): a success rides in the release's first
        // request; a failure is counted first, so the next node's start sees the brake.
        publish(healthy ? 'steady' : 'failed', { version: healthy ? version : '1.0.0' });
        const timedRelease = async (riders?: Rider[]) => {
          const r0 = performance.now();
          for (;;) {
            try {
              const { rode } = await lock.release(id, riders ? { riders } : {});
              result.releaseMs += performance.now() - r0;
              return rode;
            } catch (error) {
              if (!peerTriesAgain(error)) throw error;
              await sleep(s.pollMs);
            }
          }
        };
        if (healthy) {
          const success = agentFleet.successWithRelease(version);
          await success.afterRelease(await timedRelease(success.riders));
        } else {
          await agentFleet.failed(version, 'health gate failed: web.service is not active');
          await timedRelease();
        }
        result.rebooted++;
      } catch (error) {
        result.errors.push(`${id}: ${(error as Error).message}`);
      } finally {
        await agentFleet.flushed(10_000);
        await store.close();
      }
    }),
  );
  clearInterval(progress);
  result.unaryRequests = unary - before;
  const cpu = process.cpuUsage(cpuBefore);
  result.cpuS = (cpu.user + cpu.system) / 1e6;
  result.resets = resets;
  process.send!(result, () => process.exit(0));
}

// ---------------------------------------------------------------- main: etcd, workers, figures
/** One roll of `s`; answers its pace as a share of the ideal, undefined when it stopped at the cap. */
async function run(s: Scenario): Promise<number | undefined> {
  // etcd's own raft timings (100 ms heartbeat, 1 s election), as a production cluster runs,
  // not the harness's fast ones: under this load those elect a new leader again and again.
  const etcd = await startEtcd({ members: 3, timings: { heartbeatMs: 100, electionMs: 1000 } });
  try {
    const group = `bench-${s.mode}`;
    const client = new Etcd3(etcdOptions({ endpoints: etcd.endpoints, callTimeoutMs: 5000 }));
    await new SemaphoreLock({ store: new EtcdLockStore({ endpoints: etcd.endpoints }, { client }), group }).setMax(s.slots);
    const workers = env('FLEET_BENCH_WORKERS', 4);
    const per = Math.ceil(s.agents / workers);
    const children = Array.from({ length: workers }, (_, w) =>
      fork(process.argv[1]!, ['--worker'], { env: { ...process.env, FLEET_BENCH_ROLE: JSON.stringify({ endpoints: etcd.endpoints, group, scenario: s, first: w * per, count: Math.max(0, Math.min(per, s.agents - w * per)) } satisfies Role) } }),
    );
    await Promise.all(children.map((c) => new Promise((r) => c.once('message', r))));
    const before = await metrics(etcd);
    const etcdCpuBefore = cpuSeconds(etcd);
    const startRevision = Number((await client.get('roll-start').exec()).header.revision);
    const t0 = performance.now();
    const wallStart = Date.now();
    const deadline = Date.now() + s.capMs;
    const done = children.map(() => 0);
    const results = await Promise.all(
      children.map(
        (c, w) =>
          new Promise<WorkerResult>((resolve, reject) => {
            c.on('message', (m) => {
              if (typeof m === 'object' && m !== null && 'progress' in m) {
                done[w] = (m as { progress: number }).progress;
                if (process.env.FLEET_BENCH_PROGRESS) console.error(`  [${((performance.now() - t0) / 1000).toFixed(0)} s] ${done.reduce((a, b) => a + b, 0)} of ${s.agents} through`);
              } else resolve(m as WorkerResult);
            });
            c.once('exit', (code) => code !== 0 && reject(new Error(`worker exited ${code}`)));
            c.send({ deadline });
          }),
      ),
    );
    const totalS = (performance.now() - t0) / 1000;
    const after = await metrics(etcd);
    const etcdCpu = cpuSeconds(etcd).map((c, i) => c - etcdCpuBefore[i]!);
    const history = await maxHoldersInHistory(client, semaphoreKey(group), startRevision);
    const fleet = new FleetStore({ client });
    const rollout = await fleet.readRollout(group, version);
    await fleet.close();
    client.close();
    const sum = (f: (r: WorkerResult) => number) => results.reduce((n, r) => n + f(r), 0);
    const rebooted = sum((r) => r.rebooted);
    const waitS = sum((r) => r.waitMs) / 1000;
    const msgs = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
    const ideal = (s.agents / s.slots) * (s.rebootMs / 1000);
    const errors = results.flatMap((r) => r.errors);
    const label = { keel: 'keel (queue, hand-off)', poll: `polling every ${s.pollMs / 1000} s (locksmith's way)`, compete: "competing, no queue (airlock's clients)" }[s.mode];
    const unfinished = sum((r) => r.unfinished);
    console.log(`${s.name}, ${label}: ${s.agents} agents staging over ${s.arrivalMs / 1000} s, ${s.slots} slots, ${s.rebootMs} ms reboots, ${workers} worker processes`);
    if (unfinished > 0) console.log(`  stopped at the cap of ${(s.capMs / 1000).toFixed(0)} s with ${rebooted} rebooted and ${unfinished} still waiting (pace ${((rebooted / s.agents) * 100).toFixed(1)} % of the fleet in ${totalS.toFixed(0)} s; at that pace the roll takes ${((totalS * s.agents) / Math.max(1, rebooted)).toFixed(0)} s)`);
    else console.log(`  total ${totalS.toFixed(1)} s against the ideal ${ideal.toFixed(1)} s: ${((ideal / totalS) * 100).toFixed(1)} % of ideal`);
    console.log(
      `  etcd requests while waiting: ${(sum((r) => r.waitRequests) / Math.max(1, waitS)).toFixed(3)} per waiting agent per second (${sum((r) => r.waitRequests)} from the start of the waits to their grants, over ${waitS.toFixed(0)} agent-seconds; with the grants' confirmations, sent after them, ${((sum((r) => r.waitRequests) + sum((r) => r.confirmRequests)) / Math.max(1, waitS)).toFixed(3)}); whole roll: ${(sum((r) => r.unaryRequests) / s.agents).toFixed(1)} unary requests per agent (lock ${(sum((r) => r.lockRequests) / s.agents).toFixed(1)}, records the rest), ${(msgs('LeaseKeepAlive') / s.agents / totalS).toFixed(3)} lease keep-alives per agent per second, ${(msgs('Watch') / s.agents).toFixed(2)} watch-stream messages per agent (a create and a cancel each: more means re-created watchers)`,
    );
    const kinds: Record<string, number> = {};
    for (const r of results) for (const [k, v] of Object.entries(r.waitKinds)) kinds[k] = (kinds[k] ?? 0) + v;
    const lockKinds: Record<string, number> = {};
    for (const r of results) for (const [k, v] of Object.entries(r.lockKinds)) lockKinds[k] = (lockKinds[k] ?? 0) + v;
    const perAgent = (counts: Record<string, number>) => Object.entries(counts).map(([k, v]) => `${k} ${(v / s.agents).toFixed(2)}`).join(', ');
    console.log(`  lock requests per agent: while waiting ${perAgent(kinds)}; in all ${perAgent(lockKinds)}`);
    // Where the time over the ideal goes: the pace of the middle of the roll (each slot's turn:
    // its reboot plus the hand-off around it), and the start and end around it.
    const starts = results.flatMap((r) => r.rebootStarts).sort((a, b) => a - b);
    if (starts.length >= 10) {
      const [lo, hi] = [starts[Math.floor(starts.length * 0.1)]!, starts[Math.floor(starts.length * 0.9)]!];
      const turnMs = ((hi - lo) / (0.8 * starts.length)) * s.slots;
      console.log(
        `  pace: first reboot ${((starts[0]! - wallStart) / 1000).toFixed(2)} s after the start, last ${((starts.at(-1)! - wallStart) / 1000).toFixed(1)} s; the middle 80 % of reboots at one turn of a slot per ${turnMs.toFixed(0)} ms (a ${s.rebootMs} ms reboot and ${(turnMs - s.rebootMs).toFixed(0)} ms of hand-off around it: a release ${(sum((r) => r.releaseMs) / Math.max(1, rebooted)).toFixed(0)} ms, the grant to the reboot ${(sum((r) => r.grantToRebootMs) / Math.max(1, rebooted)).toFixed(0)} ms, the grant's watch event the rest)`,
      );
      // The ends of the roll against that pace: what the middle's pace does not explain.
      const atPace = ((0.1 * starts.length) / s.slots) * turnMs;
      // When the slots first came into use against when their agents staged: every slot shares
      // the one queue, so the roll loses about the slots' mean lateness.
      const nth = (n: number) => `#${n} at ${((starts[Math.min(n, starts.length) - 1]! - wallStart) / 1000).toFixed(2)} s (staged at ${((((n - 1) / s.agents) * s.arrivalMs) / 1000).toFixed(2)} s)`;
      console.log(`  slots coming into use: reboot ${[0, 0.25, 0.5, 0.75, 1].map((f) => nth(Math.max(1, Math.round(f * s.slots)))).join(', ')}`);
      console.log(`  ends: the first 10 % of reboots started over ${((lo - starts[0]!) / 1000).toFixed(2)} s, the last 10 % over ${((starts.at(-1)! - hi) / 1000).toFixed(2)} s (${(atPace / 1000).toFixed(2)} s each at the middle's pace)`);
    }
    console.log(`  most holders in etcd's history of the semaphore: ${history.max} of ${s.slots} slots (${history.versions} versions); etcd peak memory ${peakMemoryMiB(etcd).toFixed(0)} MiB (largest member); ${msgs('leader changes')} leader changes during the roll`);
    if (s.failEvery > 0) {
      const haltAt = rollout?.halted ? Date.parse(rollout.halted.at) : undefined;
      const starts = results.flatMap((r) => r.rebootStarts);
      const after = haltAt === undefined ? 0 : starts.filter((t) => t > haltAt).length;
      console.log(
        `  brake: ${rollout?.halted ? `halted after ${rollout.failed.length} failures (${s.maxFailures} of the group), ${rebooted} nodes rebooted in all, ${after} of them into ${version} after the halt (the slots then held: at most ${s.slots}); ${sum((r) => r.heldBack)} held back on their running version` : 'never halted'}`,
      );
      if (!rollout?.halted || after > s.slots) process.exitCode = 1;
    }
    console.log(
      `  CPU over the roll: etcd members ${etcdCpu.map((c) => `${c.toFixed(0)} s`).join(' / ')} (${etcdCpu.map((c) => `${((c / totalS) * 100).toFixed(0)} %`).join(' / ')} of a core), worker processes ${results.map((r) => `${r.cpuS.toFixed(0)} s`).join(' / ')}; etcd3 reset a member's channels ${sum((r) => r.resets)} times; load average after ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
    );
    const failedTries = sum((r) => r.failedTries);
    if (failedTries) console.log(`  ${failedTries} tries failed with etcd not answering (each tried again at the agent's next turn, as the peer does); keel's own agents fail the bench on any`);
    const warnings = sum((r) => r.warnings);
    if (warnings) console.log(`  the agents' fleet side logged ${warnings} warnings (record writes retried under load)`);
    if (errors.length) console.log(`  ERRORS (${errors.length}): ${errors.slice(0, 3).join('; ')}`);
    if (errors.length || history.max > s.slots || (s.mode === 'keel' && unfinished > 0)) process.exitCode = 1;
    return unfinished > 0 ? undefined : ideal / totalS;
  } finally {
    await etcd.stop();
  }
}

async function main(): Promise<void> {
  const agents = env('FLEET_BENCH_AGENTS', 10_000);
  const slots = env('FLEET_BENCH_SLOTS', 100);
  const rebootMs = env('FLEET_BENCH_REBOOT_MS', 1000);
  const ideal = (agents / slots) * rebootMs;
  const capMs = env('FLEET_BENCH_PEER_CAP_MS', 2 * ideal);
  const only = (process.env.FLEET_BENCH_ONLY ?? 'keel,poll,compete,brake,small,small-poll').split(',');
  // Agents stage over half the ideal roll: twice as fast as slots free up, so the queue
  // never runs dry and the ideal stands, without every agent's first requests in one second.
  const arrivalMs = env('FLEET_BENCH_ARRIVAL_MS', ideal / 2);
  const base = { agents, slots, rebootMs, pollMs: 5000, failEvery: 0, maxFailures: '100%', capMs: 5 * ideal, arrivalMs, runs: 1 };
  const scenarios: Scenario[] = [
    { ...base, name: `${agents}-agent roll`, mode: 'keel', runs: env('FLEET_BENCH_KEEL_RUNS', 3) },
    { ...base, name: `${agents}-agent roll`, mode: 'poll', capMs },
    { ...base, name: `${agents}-agent roll`, mode: 'compete', capMs },
    { ...base, name: `${agents}-agent roll, 5 % fail their health gate, max_failures 1 %`, mode: 'keel', failEvery: 20, maxFailures: '1%' },
    { ...base, name: "1,000-agent roll (last session's lock: 46.7 s, 43 % of ideal)", mode: 'keel', agents: 1000, slots: 10, rebootMs: 200, capMs: 200_000, arrivalMs: 0 },
    { ...base, name: '1,000-agent roll', mode: 'poll', agents: 1000, slots: 10, rebootMs: 200, pollMs: 1000, capMs: 200_000, arrivalMs: 0 },
  ];
  const chosen = scenarios.filter((s, i) => only.includes(['keel', 'poll', 'compete', 'brake', 'small', 'small-poll'][i]!));
  console.log(`fleet bench: load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} before the first roll`);
  for (const s of chosen) {
    const paces: number[] = [];
    for (let i = 0; i < s.runs; i++) {
      const pace = await run(s);
      if (pace !== undefined) paces.push(pace);
    }
    if (s.runs > 1 && paces.length > 0) {
      const sorted = [...paces].sort((a, b) => a - b);
      const pct = (p: number) => `${(p * 100).toFixed(1)} %`;
      const mid = Math.floor(sorted.length / 2);
      const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
      console.log(`${s.name}, ${s.mode}: ${paces.length} rolls, median ${pct(median)} of ideal (${sorted.map(pct).join(', ')})`);
    }
  }
}

if (process.argv.includes('--worker')) await worker();
else await main();
