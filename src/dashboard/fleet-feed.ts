/**
 * The dashboard's live state: for each group the last view read from etcd, kept current by
 * etcd watches (a change is a fresh read at its revision; changes during a read are folded
 * into the next one), never by polling. When etcd cannot be reached the last views stay,
 * the state says so (the page's banner), and the feed reconnects by itself: the watch
 * stream's own reconnect, or a read retried with a doubling pause while there is no watch.
 */
import type { Logger } from '../log.js';
import type { DashboardBackend } from './dashboard-backend.js';
import { groupView, nextHistory, type DashboardView, type EtcdState, type GroupView, type HistoryEntry } from './dashboard-view.js';

export interface FleetFeedOptions {
  now?: () => number;
  log?: Logger;
  /** First pause before reading again after a failure; doubles up to `maxRetryMs`. Defaults 500 ms and 10 s. */
  retryMs?: number;
  maxRetryMs?: number;
}

interface GroupState {
  view?: GroupView;
  history: Map<string, HistoryEntry[]>;
  watch?: { close(): Promise<void> };
  seen: number;
  wanted: number;
  busy: boolean;
  failures: number;
  timer?: NodeJS.Timeout;
}

export class FleetFeed {
  private readonly states = new Map<string, GroupState>();
  private readonly listeners = new Set<(view: DashboardView) => void>();
  private etcd: EtcdState;
  private closed = false;
  private reported = false;
  private readonly now: () => number;

  constructor(
    private readonly backend: DashboardBackend,
    readonly groups: readonly string[],
    private readonly options: FleetFeedOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.etcd = { connected: false, since: this.iso(), error: 'not read yet' };
    for (const g of groups) this.states.set(g, { history: new Map(), seen: -1, wanted: 0, busy: false, failures: 0 });
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  /** Reads every group once and starts the watches; resolves even when etcd is away (the feed keeps trying). */
  async start(): Promise<void> {
    await Promise.all(this.groups.map((g) => this.refresh(g)));
  }

  /** The page's data now. */
  view(): DashboardView {
    return { generatedAt: this.iso(), etcd: { ...this.etcd }, groups: this.groups.flatMap((g) => (this.states.get(g)?.view ? [this.states.get(g)!.view!] : [])) };
  }

  /** Calls `listener` with the view after every change; returns the unsubscribe. */
  subscribe(listener: (view: DashboardView) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A read right now (after an action), without waiting for the watch event. */
  changed(group: string): void {
    const s = this.states.get(group);
    if (!s) return;
    s.wanted = Math.max(s.wanted, s.seen + 1);
    void this.refresh(group);
  }

  private publish(): void {
    const view = this.view();
    for (const l of this.listeners) {
      try {
        l(view);
      } catch (error) {
        this.options.log?.warning(`dashboard: a listener failed: ${(error as Error).message}`);
      }
    }
  }

  private setEtcd(connected: boolean, error?: string): void {
    if (this.etcd.connected === connected && this.etcd.error === error) return;
    // Logged on each change, and on the first failure (the state starts as not connected).
    if (connected !== this.etcd.connected || !this.reported) this.options.log?.[connected ? 'info' : 'warning'](`dashboard: etcd ${connected ? 'reached' : `unreachable (${error}); showing the last known state and retrying`}`);
    this.reported = true;
    this.etcd = { connected, since: connected === this.etcd.connected ? this.etcd.since : this.iso(), ...(error !== undefined ? { error } : {}) };
    this.publish();
  }

  /** Reads `group` until its view is at least as new as the newest change seen, then makes sure a watch runs. */
  private async refresh(group: string): Promise<void> {
    const s = this.states.get(group)!;
    if (s.busy || this.closed) return;
    s.busy = true;
    try {
      do {
        const target = s.wanted;
        const read = await this.backend.read(group);
        s.seen = Math.max(target, read.revision);
        const view = groupView(read.input, read.revision);
        s.history = nextHistory(s.history, view.nodes);
        for (const n of view.nodes) n.history = s.history.get(n.machineId) ?? [];
        s.view = view;
        s.failures = 0;
        this.etcd.connected ? this.publish() : this.setEtcd(true);
      } while (s.wanted > s.seen && !this.closed);
      if (!s.watch && !this.closed) s.watch = await this.backend.watch(group, s.seen, { change: (rev) => this.onChange(group, rev), connection: (up, error) => this.onConnection(group, up, error) });
    } catch (error) {
      this.setEtcd(false, (error as Error).message.split('\n')[0]);
      this.retryLater(group);
    } finally {
      s.busy = false;
    }
  }

  private retryLater(group: string): void {
    const s = this.states.get(group)!;
    if (this.closed || s.timer) return;
    const base = this.options.retryMs ?? 500;
    const delay = Math.min(this.options.maxRetryMs ?? 10_000, base * 2 ** Math.min(s.failures++, 10));
    s.timer = setTimeout(() => {
      s.timer = undefined;
      void this.refresh(group);
    }, delay);
  }

  private onChange(group: string, revision: number): void {
    const s = this.states.get(group)!;
    s.wanted = Math.max(s.wanted, revision);
    void this.refresh(group);
  }

  private onConnection(group: string, connected: boolean, error?: string): void {
    if (!connected) return this.setEtcd(false, error ?? 'the watch lost etcd');
    // Reached again: read at once (the watch resumes, but the banner goes only on a good read).
    this.changed(group);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    for (const s of this.states.values()) {
      clearTimeout(s.timer);
      await s.watch?.close();
    }
  }
}
