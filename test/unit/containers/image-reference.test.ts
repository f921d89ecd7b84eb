// The OCI distribution reference grammar, as keel checks `image:` before it reaches a unit.
import { describe, expect, test } from 'vitest';
import { parseImageReference } from '../../../src/containers/image-reference.js';

const digest = 'sha256:' + 'ab'.repeat(32);

describe('image references', () => {
  test.each<[string, object]>([
    ['nginx', { path: 'nginx' }],
    ['nginx:1.25', { path: 'nginx', tag: '1.25' }],
    ['library/nginx:latest', { path: 'library/nginx', tag: 'latest' }],
    ['docker.io/library/nginx:1.25-alpine', { registry: 'docker.io', path: 'library/nginx', tag: '1.25-alpine' }],
    ['localhost/busybox:test', { registry: 'localhost', path: 'busybox', tag: 'test' }],
    ['localhost:5000/app', { registry: 'localhost:5000', path: 'app' }],
    ['registry.example:443/team/app:v2_1', { registry: 'registry.example:443', path: 'team/app', tag: 'v2_1' }],
    ['[::1]:5000/app:1', { registry: '[::1]:5000', path: 'app', tag: '1' }],
    [`quay.io/a/b@${digest}`, { registry: 'quay.io', path: 'a/b', digest }],
    [`a/b:1@${digest}`, { path: 'a/b', tag: '1', digest }],
    ['a__b/c.d/e--f_g:_x', { path: 'a__b/c.d/e--f_g', tag: '_x' }],
    ['Registry/app', { registry: 'Registry', path: 'app' }],
    [`x:${'t'.repeat(128)}`, { path: 'x', tag: 't'.repeat(128) }],
  ])('%s is valid', (text, reference) => expect(parseImageReference(text)).toEqual({ ok: true, reference }));

  test.each<[string, RegExp]>([
    ['nginx:1.25\n[Service]\nExecStartPre=/bin/sh', /control character/],
    ['nginx:1.25\r', /control character/],
    ['nginx\0', /control character/],
    ['nginx\x7f', /control character/],
    ['nginx 1.25', /white space/],
    ['', /empty/],
    ['Nginx', /upper-case/],
    ['docker.io/Library/nginx', /upper-case/],
    ['nginx:.1', /tag/],
    ['nginx:-1', /tag/],
    [`nginx:${'t'.repeat(129)}`, /tag/],
    ['nginx:1.25:x', /path component "nginx:1.25"|registry/],
    ['nginx@sha256:abc', /digest/],
    ['nginx@md5', /digest/],
    ['a//b', /path component ""/],
    ['/nginx', /path component ""/],
    ['a/-b', /path component "-b"/],
    ['a/b_', /path component "b_"/],
    ['a/b___c', /path component/],
    ['bad_host.example/app', /registry host/],
    ['host.example:port/app', /registry/],
    [`a/${'b'.repeat(260)}`, /at most 255/],
  ])('%j is refused', (text, reason) => {
    const r = parseImageReference(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });
});
