// The dashboard in a real browser: Debian's chromium, headless, driven by playwright-core,
// against `./bin/keel fleet serve` on a real etcd with three simulated agents. The page
// loads with no console errors, shows the three nodes, changes live when a record changes,
// sorts, filters and opens a node's detail, shows hostile text as text, and a halt clicked
// in the page (token, confirmation, reason) halts the rollout in etcd. Screenshots go to
// .cache/test-output/dashboard/. Fails loudly when chromium cannot start.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { aliceToken, group, startFleet, startFleetServe, type Fleet, type ServeProcess } from './dashboard-fixture.js';

/** Debian's chromium: the binary itself (the /usr/bin/chromium wrapper script adds nothing headless needs). */
const chromiumPath = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((p) => existsSync(p));
const out = join(process.cwd(), '.cache/test-output/dashboard');

let fleet: Fleet;
let serve: ServeProcess;
let browser: Browser;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  if (!chromiumPath) throw new Error('chromium not found at /usr/lib/chromium/chromium or /usr/bin/chromium: install Debian\'s chromium (deps/dashboard.apt, make deps)');
  mkdirSync(out, { recursive: true });
  fleet = await startFleet();
  serve = await startFleetServe(fleet);
  try {
    // --no-sandbox: the tests run as root, where chromium's sandbox refuses to start.
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  } catch (error) {
    throw new Error(`chromium at ${chromiumPath} did not start: ${(error as Error).message}`);
  }
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('dialog', (d) => (problems.push(`unexpected dialog: ${d.message()}`), void d.dismiss()));
});
afterAll(async () => {
  await browser?.close();
  await serve?.stop();
  await fleet?.close();
});

const nodeRows = () => page.locator('section[data-group="web"] table.nodes tr.node');
const stateOf = (id: string) => page.locator(`tr.node[data-node="${id}"] td.state`);

describe('the dashboard in chromium', () => {
  test('loads with no console errors and shows the three nodes, the version bar, the rollout and the slot holder', async () => {
    await page.goto(serve.url);
    await expect.poll(() => nodeRows().count()).toBe(3);
    expect(await nodeRows().evaluateAll((rows) => rows.map((r) => r.getAttribute('data-node')))).toEqual(['n1', 'n2', 'n3']);
    expect(await page.locator('#live').textContent()).toBe('live');
    expect(await page.locator('.legend').textContent()).toContain('2.0.0');
    expect(await page.locator('tr[data-version="2.0.0"]').textContent()).toContain('running');
    expect(await page.locator('tr[data-holder="n2"]').textContent()).toContain('web-n2');
    await page.screenshot({ path: join(out, '01-rollout.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  test('changes live when an agent\'s record changes', async () => {
    await fleet.publish('n3', { state: 'downloading', stateSince: new Date().toISOString() });
    await expect.poll(() => stateOf('n3').textContent()).toBe('downloading');
    await page.screenshot({ path: join(out, '02-live-change.png'), fullPage: true });
  });

  test('sorts, filters, and a row opens the node\'s last error and history', async () => {
    // n2 rolls back: its agent counts the failure (max_failures 2: the rollout goes on) and republishes.
    await fleet.store.recordFailed(group, '2.0.0', { machineId: 'n2', error: 'health gate failed: web.service inactive' }, { maxFailures: { kind: 'count', count: 2 }, healthDeadlineMs: 600_000 });
    await fleet.publish('n2', { state: 'rolled-back', stateSince: new Date().toISOString(), lastError: { message: 'health gate failed: web.service inactive', at: new Date().toISOString() }, health: { verdict: 'failed', at: new Date().toISOString() } });
    await expect.poll(() => stateOf('n2').textContent()).toMatch(/^rolled-back/);
    await page.locator('section[data-group="web"] th button.sort', { hasText: 'Machine ID' }).click();
    expect(await nodeRows().evaluateAll((rows) => rows.map((r) => r.getAttribute('data-node')))).toEqual(['n3', 'n2', 'n1']);
    await page.locator('select[data-filter="state"]').selectOption('downloading');
    await expect.poll(() => nodeRows().count()).toBe(1);
    await page.locator('select[data-filter="state"]').selectOption('');
    await page.locator('tr.node[data-node="n2"]').click();
    const detail = page.locator('tr.detail');
    await expect.poll(() => detail.textContent()).toContain('health gate failed: web.service inactive');
    expect(await detail.textContent()).toMatch(/rolled-back on 1\.0\.0.*rebooting on 1\.0\.0/);
    await expect.poll(() => page.locator('tr[data-version="2.0.0"] td').allTextContents()).toEqual(['2.0.0', 'running', '2', '1', '1', '-', 'Halt']);
    // docs/img/dashboard.png (the README's) is a copy of this one.
    await page.screenshot({ path: join(out, '03-node-detail.png'), fullPage: true });
  });

  test('hostile text in a record shows as text, never as markup', async () => {
    const evil = '<img src=x onerror="document.title=\'owned\'">';
    await fleet.publish('n1', { version: '2.0.0', slot: 'b', hostname: evil, stateSince: new Date().toISOString() });
    await expect.poll(() => page.locator('tr.node[data-node="n1"] td').nth(1).textContent()).toBe(evil);
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.title()).toBe('keel fleet');
  });

  test('a halt clicked in the page, with the operator token and a reason, halts the rollout in etcd', async () => {
    await page.locator('#operator summary').click();
    await page.locator('#token').fill(aliceToken);
    await page.locator('#token-save').click();
    await page.locator('tr[data-version="2.0.0"] button[data-action="halt"]').click();
    await expect.poll(() => page.locator('#confirm').isVisible()).toBe(true);
    expect(await page.locator('#confirm-ok').textContent()).toBe('Halt 2.0.0');
    await page.locator('#confirm-ok').click();
    expect(await page.locator('#confirm-error').textContent()).toBe('Say why the rollout halts.');
    await page.locator('#confirm-reason').fill('n2 failed its health gate');
    await page.locator('#confirm-ok').click();
    await expect.poll(() => page.locator('#confirm').isVisible()).toBe(false);
    expect((await fleet.store.readRollout(group, '2.0.0'))?.halted).toMatchObject({ by: 'operator', reason: 'n2 failed its health gate' });
    await expect.poll(() => page.locator('tr[data-version="2.0.0"]').textContent()).toContain('halted');
    expect(await page.locator('ul.audit').textContent()).toContain('alice');
    await page.screenshot({ path: join(out, '04-halted.png'), fullPage: true });
  });

  test('readable on a phone, with no console errors through the whole session', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(out, '05-phone.png'), fullPage: true });
    expect(problems).toEqual([]);
  });
});
