import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { defaultDetectNames, detectDatasources, readDatasource } from '../../../../src/cloudconfig/datasources/index.js';
import { serve } from './http-server.js';

describe('readDatasource', () => {
  test('an unknown name is a usage error listing the names', async () => {
    await expect(readDatasource('vmware')).rejects.toMatchObject({
      kind: 'usage',
      message: "unknown datasource 'vmware'; expected one of nocloud, config-drive, cmdline, ec2, file",
    });
  });

  test.each([
    [{}, ['config-drive', 'nocloud', 'cmdline']],
    [{ metadataUrl: 'http://x' }, ['config-drive', 'nocloud', 'cmdline', 'ec2']],
    [{ path: '/x' }, ['config-drive', 'nocloud', 'cmdline', 'file']],
  ])('default detection sources for %j', (options, expected) => {
    expect(defaultDetectNames(options)).toEqual(expected);
  });
});

describe('detectDatasources', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'keel-detect-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('many polls leave no abort listener behind (a boot without a seed logged MaxListenersExceededWarning)', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      // 1 ms between polls for 300 ms: well over the 10 listeners Node warns at.
      const found = await detectDatasources({ names: ['file', 'cmdline'], path: path.join(dir, 'absent'), deadlineMs: 300, backoff: { initialDelayMs: 1, maxDelayMs: 1 } });
      expect(found.result).toBeUndefined();
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
  });

  test('waits with backoff for a source that appears late', async () => {
    const seed = path.join(dir, 'user-data');
    setTimeout(() => void fs.writeFile(seed, '#cloud-config\n'), 250);
    const started = Date.now();
    const found = await detectDatasources({ names: ['file'], path: seed, deadlineMs: 10_000 });
    expect(found.result?.source).toBe(`file:${seed}`);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  test('the first source with data wins among several', async () => {
    const server = await serve({ '/v/meta-data/instance-id': 'i-x', '/v/user-data': '#cloud-config\n' });
    try {
      const found = await detectDatasources({
        names: ['file', 'ec2', 'cmdline'],
        path: path.join(dir, 'never'),
        metadataUrl: `${server.url}/v`,
        cmdlinePath: path.join(dir, 'no-cmdline'),
        deadlineMs: 5000,
      });
      expect(found.result?.source).toBe(`ec2:${server.url}/v`);
    } finally {
      await server.close();
    }
  });

  test('gives up at the deadline, polling on the backoff schedule (fake clock)', async () => {
    let now = 0;
    const sleeps: number[] = [];
    const found = await detectDatasources({
      names: ['file'],
      path: path.join(dir, 'never'),
      deadlineMs: 300_000,
      now: () => now,
      sleep: async (ms) => {
        sleeps.push(ms);
        now += ms;
      },
    });
    expect(found.result).toBeUndefined();
    expect(sleeps.slice(0, 4)).toEqual([100, 200, 400, 800]);
    expect(Math.max(...sleeps)).toBe(30_000);
    expect(sleeps.reduce((a, b) => a + b, 0)).toBe(300_000);
  });

  test('reports errors of present but broken sources', async () => {
    const cmdlinePath = path.join(dir, 'cmdline');
    await fs.writeFile(cmdlinePath, 'cloud-config-url=ftp://nope/x');
    const found = await detectDatasources({ names: ['cmdline'], cmdlinePath, deadlineMs: 300 });
    expect(found.result).toBeUndefined();
    expect(found.errors.cmdline?.kind).toBe('invalid-input');
  });
});
