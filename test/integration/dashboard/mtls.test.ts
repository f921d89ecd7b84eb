// The dashboard over HTTPS with client certificates, as the lock server's operator role:
// the operator's certificate halts a rollout (audited as via certificate), a node's
// certificate is refused 403, none or one from a stranger CA 401; reading needs none.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { auditPrefix } from '../../../src/dashboard/audit-record.js';
import { issueClientCert, makeStrangerCert, makeTestCerts } from '../lock/test-certs.js';
import { group, startFleet, startServe, type Fleet, type ServeProcess } from './dashboard-fixture.js';

const certs = makeTestCerts('unused');
const clients = { ops: issueClientCert(certs.dir, 'ops'), node: issueClientCert(certs.dir, 'n1'), stranger: makeStrangerCert('ops') };
let fleet: Fleet;
let serve: ServeProcess;

beforeAll(async () => {
  fleet = await startFleet();
  serve = await startServe(['fleet', 'serve', '--endpoints', fleet.etcd.endpoints.join(','), '--group', group, '--listen', '127.0.0.1:0', '--tls-cert', certs.serverCertFile, '--tls-key', certs.serverKeyFile, '--client-ca', certs.caFile, '--operators', 'ops']);
});
afterAll(async () => {
  await serve?.stop();
  await fleet?.close();
  rmSync(certs.dir, { recursive: true, force: true });
  rmSync(clients.stranger.dir, { recursive: true, force: true });
});

function call(path: string, cert?: { certFile: string; keyFile: string }, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${serve.url}${path}`,
      { method: body === undefined ? 'GET' : 'POST', ca: readFileSync(certs.caFile), ...(cert ? { cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) } : {}), headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe('keel fleet serve with client certificates', () => {
  const halt = `/api/v1/groups/${group}/rollouts/2.0.0/halt`;
  const body = { confirm: '2.0.0', reason: 'halted by certificate' };

  test('reading needs no certificate', async () => {
    expect(serve.url).toMatch(/^https:/);
    expect((await call('/api/v1/view')).status).toBe(200);
  });

  test('no certificate or a stranger CA is 401, a node certificate 403, and nothing changes', async () => {
    expect((await call(halt, undefined, body)).status).toBe(401);
    expect((await call(halt, clients.stranger, body)).status).toBe(401);
    const node = await call(halt, clients.node, body);
    expect(node.status).toBe(403);
    expect(node.json.value).toContain('"n1" is not an operator');
    expect((await fleet.store.readRollout(group, '2.0.0'))?.halted).toBeUndefined();
  });

  test("the operator's certificate halts the rollout, audited as via certificate", async () => {
    expect((await call(halt, clients.ops, body)).status).toBe(200);
    expect((await fleet.store.readRollout(group, '2.0.0'))?.halted).toMatchObject({ by: 'operator', reason: 'halted by certificate' });
    const audit = Object.values(await fleet.store.client.getAll().prefix(auditPrefix(group)).strings()).map((v) => JSON.parse(v));
    expect(audit).toEqual([expect.objectContaining({ who: { name: 'ops', via: 'certificate' }, action: 'halt', result: 'changed' })]);
  });
});
