// What the fleet bench reads off its etcd cluster: gRPC message counts from each member's
// /metrics, the largest member's peak memory and CPU time (from /proc), and the most holders
// the semaphore ever had in etcd's history of the key.
import { readFileSync } from 'node:fs';
import type { Etcd3 } from 'etcd3';
import type { EtcdCluster } from '../../test/harness/etcd.js';

/** gRPC messages received by every member, by method, summed; and 'leader changes' (the most any member saw). */
export async function metrics(etcd: EtcdCluster): Promise<Map<string, number>> {
  const sums = new Map<string, number>();
  for (const m of etcd.members) {
    const text = await (await fetch(`${m.clientUrl}/metrics`)).text();
    for (const line of text.split('\n')) {
      const hit = /^grpc_server_msg_received_total\{grpc_method="(\w+)",grpc_service="[\w.]+",grpc_type="\w+"\} (\S+)$/.exec(line);
      if (hit) sums.set(hit[1]!, (sums.get(hit[1]!) ?? 0) + Number(hit[2]));
      // Each member counts the leader changes it saw: a roll that stalls may have lost its leader.
      const leader = /^etcd_server_leader_changes_seen_total (\S+)$/.exec(line);
      if (leader) sums.set('leader changes', Math.max(sums.get('leader changes') ?? 0, Number(leader[1])));
    }
  }
  return sums;
}

export function peakMemoryMiB(etcd: EtcdCluster): number {
  let peak = 0;
  for (const m of etcd.members) {
    const pid = m.process?.pid;
    if (!pid) continue;
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (hwm) peak = Math.max(peak, Number(hwm[1]) / 1024);
  }
  return peak;
}

/** The most holders the semaphore ever had, from etcd's history of the key after `fromRevision`. */
export async function maxHoldersInHistory(client: Etcd3, key: string, fromRevision: number): Promise<{ max: number; versions: number }> {
  const end = Number((await client.get('history-end').exec()).header.revision);
  let max = 0;
  let versions = 0;
  await new Promise<void>((resolve, reject) => {
    void client
      .watch()
      .key(key)
      .startRevision(String(fromRevision + 1))
      .create()
      .then((w) => {
        const done = () => void w.cancel().then(() => resolve());
        w.on('put', (kv) => {
          versions++;
          max = Math.max(max, (JSON.parse(kv.value.toString()) as { holders: string[] | null }).holders?.length ?? 0);
        });
        w.on('data', (res) => Number(res.header.revision) >= end && done());
        w.on('error', reject);
        // An idle key after the roll: the watch's first response already carries the end revision.
        setTimeout(done, 5000);
      }, reject);
  });
  return { max, versions };
}

/** CPU seconds (user + system) each member has used so far, from /proc/PID/stat (clock ticks of 1/100 s). */
export function cpuSeconds(etcd: EtcdCluster): number[] {
  return etcd.members.map((m) => {
    const pid = m.process?.pid;
    if (!pid) return 0;
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  });
}
