import { gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { planUserData } from '../../../src/cloudconfig/pipeline.js';
import { describeOperation } from '../../../src/cloudconfig/plan-format.js';
import { KeelError } from '../../../src/errors.js';

const enc = (s: string) => new TextEncoder().encode(s);
const metadata = { instanceId: 'i-0abc', hostname: 'meta-host', privateIpv4: '10.1.2.3', sshPublicKeys: ['ssh-ed25519 META meta'] };

describe('user-data → plan', () => {
  test('metadata: instance id, $private_ipv4 substituted, keys to core', () => {
    const r = planUserData({ userData: enc("#cloud-config\nwrite_files:\n  - path: /etc/ip\n    content: 'ip=$private_ipv4 cost=\\$5'\n"), metadata, live: false });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.plan.instanceId).toBe('i-0abc');
    const file = r.plan.operations.find((o) => o.kind === 'write-file');
    expect(new TextDecoder().decode(file && 'file' in file ? file.file.content : undefined)).toBe('ip=10.1.2.3 cost=$5');
    expect(r.plan.operations.map(describeOperation)).toContain('install-ssh-keys core (1 key)');
    expect(r.plan.operations.map(describeOperation)[0]).toBe('set-hostname meta-host (/etc/hostname)');
  });

  test('without metadata the instance id comes from the user-data hash; gzip is the same user-data', () => {
    const text = '#cloud-config\nhostname: h\n';
    const plain = planUserData({ userData: enc(text), metadata: { sshPublicKeys: [] }, live: false });
    const zipped = planUserData({ userData: gzipSync(text), metadata: { sshPublicKeys: [] }, live: false });
    if (!plain.ok || !zipped.ok) throw new Error('expected plans');
    expect(plain.plan.instanceId).toMatch(/^iid-local-[0-9a-f]{16}$/);
    expect(zipped.plan.operations.map(describeOperation)).toEqual(plain.plan.operations.map(describeOperation).map((l) => l.replace(plain.plan.instanceId, zipped.plan.instanceId)));
  });

  test.each([
    ['a bad header', 'hostname: x\n', /bad header/],
    ['a type error', '#cloud-config\nusers: 3\n', /users/],
  ])('%s gives located problems and no plan', (_n, text, message) => {
    const r = planUserData({ userData: enc(text), metadata: { sshPublicKeys: [] }, live: false });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.map((p) => `${p.line}:${p.column} ${p.path} ${p.message}`).join('\n')).toMatch(message);
  });

  test('warnings pass through with the plan', () => {
    const r = planUserData({ userData: enc('#cloud-config\nhostnme: x\n'), metadata: { sshPublicKeys: [] }, live: false });
    expect(r.ok && r.warnings.length).toBeGreaterThan(0);
  });

  test('empty user-data plans only the record; a script plans its run', () => {
    const empty = planUserData({ userData: enc(''), metadata, live: true });
    expect(empty.ok && empty.plan.operations.map((o) => o.kind)).toEqual(['set-hostname', 'create-user', 'install-ssh-keys', 'write-sudoers', 'record-instance']);
    const script = planUserData({ userData: enc('#!/bin/sh\ntrue\n'), metadata: { sshPublicKeys: [] }, live: true });
    expect(script.ok && script.plan.operations.map((o) => o.kind)).toEqual(['write-file', 'run-script', 'record-instance']);
  });

  test('a self-contradicting config throws a conflict', () => {
    expect(() => planUserData({ userData: enc('#cloud-config\nusers:\n  - name: a\n  - name: a\n'), metadata: { sshPublicKeys: [] }, live: false })).toThrow(KeelError);
  });
});
