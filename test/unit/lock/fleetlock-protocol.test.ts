// FleetLock request checks, table-driven: every refusal has its status and kind.
import { describe, expect, test } from 'vitest';
import { parseRequest, requestBody } from '../../../src/lock/fleetlock-protocol.js';

const h = { 'fleet-lock-protocol': 'true' };
const body = requestBody('node-1', 'workers');

describe('fleetlock protocol', () => {
  test.each([
    ['pre-reboot', { method: 'POST', url: '/v1/pre-reboot', headers: h, body }, { ok: true, operation: 'pre-reboot', id: 'node-1', group: 'workers' }],
    ['steady-state', { method: 'POST', url: '/v1/steady-state', headers: h, body }, { ok: true, operation: 'steady-state', id: 'node-1', group: 'workers' }],
    ['airlock-era node_uuid', { method: 'POST', url: '/v1/pre-reboot', headers: h, body: '{"client_params":{"node_uuid":"u","group":"default"}}' }, { ok: true, operation: 'pre-reboot', id: 'u', group: 'default' }],
    ['absolute-form target', { method: 'POST', url: 'http://lock.example/v1/pre-reboot', headers: h, body }, { ok: true, operation: 'pre-reboot', id: 'node-1', group: 'workers' }],
    ['a 253-character group', { method: 'POST', url: '/v1/pre-reboot', headers: h, body: requestBody('n', 'g'.repeat(253)) }, { ok: true, operation: 'pre-reboot', id: 'n', group: 'g'.repeat(253) }],
    ['status (keel)', { method: 'GET', url: '/v1/status?group=workers', headers: {}, body: '' }, { ok: true, operation: 'status', id: '', group: 'workers' }],
  ])('accepts %s', (_n, req, want) => expect(parseRequest(req)).toEqual(want));

  test.each([
    ['no header', { method: 'POST', url: '/v1/pre-reboot', headers: {}, body }, 400, 'missing_fleet_lock_header'],
    ['header false', { method: 'POST', url: '/v1/pre-reboot', headers: { 'fleet-lock-protocol': 'false' }, body }, 400, 'missing_fleet_lock_header'],
    ['bad group', { method: 'POST', url: '/v1/pre-reboot', headers: h, body: requestBody('n', 'bad group!') }, 400, 'invalid_group'],
    ['missing group', { method: 'POST', url: '/v1/pre-reboot', headers: h, body: '{"client_params":{"id":"n"}}' }, 400, 'invalid_group'],
    ['empty id', { method: 'POST', url: '/v1/pre-reboot', headers: h, body: requestBody('', 'g') }, 400, 'invalid_client_id'],
    ['not json', { method: 'POST', url: '/v1/pre-reboot', headers: h, body: '{nope' }, 400, 'malformed_body'],
    ['no client_params', { method: 'POST', url: '/v1/steady-state', headers: h, body: '{"id":"n"}' }, 400, 'malformed_body'],
    ['null body', { method: 'POST', url: '/v1/steady-state', headers: h, body: 'null' }, 400, 'malformed_body'],
    ['GET pre-reboot', { method: 'GET', url: '/v1/pre-reboot', headers: h, body: '' }, 405, 'method_not_allowed'],
    ['unknown path', { method: 'POST', url: '/v2/pre-reboot', headers: h, body }, 404, 'not_found'],
    ['target with a bad host', { method: 'GET', url: 'http://%zz/v1/status', headers: {}, body: '' }, 400, 'bad_request_target'],
    ['target with an unclosed bracket', { method: 'GET', url: 'http://[/v1/status', headers: {}, body: '' }, 400, 'bad_request_target'],
    ['target with two colons', { method: 'GET', url: 'http://a:b:c/v1/status', headers: {}, body: '' }, 400, 'bad_request_target'],
    ['target with a port out of range', { method: 'GET', url: 'http://x:99999/v1/status', headers: {}, body: '' }, 400, 'bad_request_target'],
    ['target with a bad IPv4 address', { method: 'GET', url: 'http://256.1.1.1/v1/status', headers: {}, body: '' }, 400, 'bad_request_target'],
    ['authority-form target', { method: 'GET', url: 'example.com:443', headers: {}, body: '' }, 400, 'bad_request_target'],
    ['asterisk-form target', { method: 'OPTIONS', url: '*', headers: {}, body: '' }, 400, 'bad_request_target'],
    ['a group named ..', { method: 'POST', url: '/v1/pre-reboot', headers: h, body: requestBody('n', '..') }, 400, 'invalid_group'],
    ['a 254-character group', { method: 'GET', url: `/v1/status?group=${'g'.repeat(254)}`, headers: {}, body: '' }, 400, 'invalid_group'],
    ['a node id with a space', { method: 'POST', url: '/v1/pre-reboot', headers: h, body: requestBody('a b', 'g') }, 400, 'invalid_client_id'],
    ['a numeric node id', { method: 'POST', url: '/v1/pre-reboot', headers: h, body: '{"client_params":{"id":7,"group":"g"}}' }, 400, 'invalid_client_id'],
  ])('refuses %s', (_n, req, status, kind) => {
    const r = parseRequest(req);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ status, kind });
  });

  test('endpoints under a base path', () => {
    expect(parseRequest({ method: 'POST', url: '/fleetlock/v1/pre-reboot', headers: h, body }, '/fleetlock')).toMatchObject({ ok: true });
    expect(parseRequest({ method: 'POST', url: '/v1/pre-reboot', headers: h, body }, '/fleetlock')).toMatchObject({ ok: false });
  });
});
