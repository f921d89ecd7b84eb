/**
 * Riders (reboot-lock.ts) as etcd transaction operations: each a transaction inside the
 * carrier's (etcd >= 3.3), whose own compares decide its writes alone. One form for every
 * request that carries them: the lock's confirmation and release, and the fleet's success
 * when it goes out alone.
 */
import { CompareResult, CompareTarget, type Etcd3 } from 'etcd3';
import type { Rider } from './reboot-lock.js';

export type TxnOp = Parameters<Etcd3['kv']['txn']>[0]['success'] extends (infer T)[] | undefined ? T : never;

export function riderOps(riders: Rider[]): TxnOp[] {
  return riders.map((rider) => ({
    request_txn: {
      compare: rider.absent.map((k) => ({ key: Buffer.from(k), target: CompareTarget.Version, result: CompareResult.Equal, version: 0 })),
      success: Object.entries(rider.puts).map(([k, v]) => ({ request_put: { key: Buffer.from(k), value: Buffer.from(v) } })),
      failure: [],
    },
  }));
}
