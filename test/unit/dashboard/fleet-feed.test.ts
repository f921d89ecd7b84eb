// The feed with a recording backend: etcd away at start (banner state, retried by itself),
// a watch event is a fresh read, a lost watch stream keeps the last view and says so, and
// the stream coming back reads again and clears the banner.
import { describe, expect, test } from 'vitest';
import { FleetFeed } from '../../../src/dashboard/fleet-feed.js';
import type { DashboardView } from '../../../src/dashboard/dashboard-view.js';
import { FakeBackend } from './fake-backend.js';
import { node, sampleInput } from './sample-records.js';

/** Resolves with the first view `listener` sees that passes `ok`. */
function next(feed: FleetFeed, ok: (v: DashboardView) => boolean): Promise<DashboardView> {
  return new Promise((resolve) => {
    const off = feed.subscribe((v) => {
      if (ok(v)) (off(), resolve(v));
    });
  });
}

describe('FleetFeed', () => {
  test('etcd away at start: not connected with the reason, then read by itself once it answers', async () => {
    const backend = new FakeBackend(() => sampleInput());
    backend.down = true;
    const feed = new FleetFeed(backend, ['web'], { retryMs: 5 });
    await feed.start();
    expect(feed.view()).toMatchObject({ etcd: { connected: false, error: expect.stringContaining('ECONNREFUSED') }, groups: [] });
    const up = next(feed, (v) => v.etcd.connected);
    backend.down = false;
    expect((await up).groups[0]!.nodes).toHaveLength(3);
    expect(backend.calls.filter((c) => c.startsWith('watch'))).toEqual(['watch web 10']);
    await feed.close();
  });

  test('a change is a read; a lost stream keeps the last view; a regained one reads again', async () => {
    let hostname = 'host-n1';
    const backend = new FakeBackend(() => sampleInput({ '/keel/fleet/web/nodes/n1': node('n1', { hostname, state: hostname === 'host-n1' ? 'steady' : 'staged' }) }));
    const feed = new FleetFeed(backend, ['web'], { retryMs: 5 });
    await feed.start();
    expect(feed.view().etcd.connected).toBe(true);
    const changed = next(feed, (v) => v.groups[0]!.nodes[0]!.hostname === 'renamed');
    hostname = 'renamed';
    backend.revision = 11;
    backend.watchers[0]!.change(11);
    const view = await changed;
    expect(view.groups[0]!.revision).toBe(11);
    expect(view.groups[0]!.nodes[0]!.history.map((h) => h.state)).toEqual(['steady', 'staged']);

    backend.down = true;
    backend.watchers[0]!.connection(false, '14 UNAVAILABLE: No connection established');
    expect(feed.view()).toMatchObject({ etcd: { connected: false, error: '14 UNAVAILABLE: No connection established' } });
    expect(feed.view().groups[0]!.nodes[0]!.hostname).toBe('renamed');

    const back = next(feed, (v) => v.etcd.connected);
    backend.down = false;
    backend.watchers[0]!.connection(true);
    expect((await back).groups[0]!.nodes).toHaveLength(3);
    expect(backend.calls.filter((c) => c.startsWith('watch'))).toHaveLength(1);
    await feed.close();
    expect(backend.calls.at(-1)).toBe('unwatch web');
  });
});
