/**
 * The watch of a group's records and lock (`keel fleet status --watch`, the dashboard): three
 * etcd watchers, its fleet prefix, its semaphore and its holders, each calling `change` with
 * the revision of every batch of events. A broken stream is not the end of them: etcd3
 * reconnects and resumes from the last revision it saw ('disconnected', then 'connected').
 * etcd cancelling one is ('error': its start compacted away, at creation or on such a resume),
 * and etcd3 then drops it. Only that one is replaced, by a watcher from now, whose first
 * answer's revision goes to `change` so the caller reads what the cancelled one missed; its
 * siblings are left alone (cancelling them while etcd cancels them too is a race etcd3 cannot
 * match: "Failed to find watcher", and its later watches hang).
 */
import type { Etcd3, Watcher } from 'etcd3';
import { etcdError } from '../lock/etcd-connection.js';
import { holdersPrefix, semaphoreKey } from '../lock/group-keys.js';
import { fleetPrefix } from './fleet-keys.js';

export interface GroupWatchHandlers {
  /** A change to the group's records or lock at `revision` (or a revision to read at after a watcher was replaced). */
  change(revision: number): void;
  /** The watch stream lost etcd (with why) or reached it again. */
  connection?(connected: boolean, error?: string): void;
}

/** How long a watcher that could not be replaced waits before trying again. */
const replaceRetryMs = 1000;

export async function watchGroup(client: Etcd3, group: string, revision: number, handlers: GroupWatchHandlers): Promise<{ close(): Promise<void> }> {
  const builders = [() => client.watch().prefix(fleetPrefix(group)), () => client.watch().key(semaphoreKey(group)), () => client.watch().prefix(holdersPrefix(group))];
  const watchers: (Watcher | undefined)[] = [];
  let closed = false;
  let lost = false;

  /** Opens watcher `i` from `start` (or from now) and answers it with the revision of etcd's first answer. */
  const open = async (i: number, start?: string): Promise<{ watcher: Watcher; revision: number }> => {
    const builder = builders[i]!();
    const watcher = (start === undefined ? builder : builder.startRevision(start)).watcher();
    const first = await new Promise<{ header?: { revision?: string } }>((resolve, reject) => {
      watcher.once('connected', resolve);
      watcher.once('error', reject);
    });
    watcher.on('data', (res: { header: { revision: string } }) => handlers.change(Number(res.header.revision)));
    watcher.on('disconnected', (error: Error) => {
      if (!lost) handlers.connection?.(false, error.message.split('\n')[0]);
      lost = true;
    });
    watcher.on('connected', () => {
      if (lost) handlers.connection?.(true);
      lost = false;
    });
    watcher.on('error', () => void replace(i));
    return { watcher, revision: Number(first.header?.revision ?? 0) };
  };

  const replace = async (i: number): Promise<void> => {
    watchers[i] = undefined;
    if (closed) return;
    try {
      const fresh = await open(i);
      if (closed) return void (await fresh.watcher.cancel().catch(() => undefined));
      watchers[i] = fresh.watcher;
      handlers.change(fresh.revision);
    } catch {
      setTimeout(() => void replace(i), replaceRetryMs).unref?.();
    }
  };

  const close = async () => {
    closed = true;
    await Promise.all(watchers.map((w) => w?.cancel().catch(() => undefined)));
  };
  try {
    for (let i = 0; i < builders.length; i++) watchers.push((await open(i, String(revision + 1))).watcher);
  } catch (error) {
    await close();
    throw etcdError(error, `watching ${fleetPrefix(group)}`);
  }
  return { close };
}
