// $public_ipv4 and friends from metadata, before parsing; \$ escapes; unknowns stay.
import { describe, expect, test } from 'vitest';
import { substituteMetadata } from '../../../src/cloudconfig/substitute.js';
import type { Metadata } from '../../../src/cloudconfig/metadata.js';
import { validateCloudConfig } from '../../../src/cloudconfig/validate.js';

const full: Metadata = { sshPublicKeys: [], publicIpv4: '203.0.113.5', privateIpv4: '10.0.0.5', publicIpv6: '2001:db8::5', privateIpv6: 'fd00::5' };
const none: Metadata = { sshPublicKeys: [] };

describe('substituteMetadata', () => {
  test.each([
    ['all four', '$public_ipv4 $private_ipv4 $public_ipv6 $private_ipv6', full, '203.0.113.5 10.0.0.5 2001:db8::5 fd00::5'],
    ['inside a URL', 'http://$private_ipv4:2379', full, 'http://10.0.0.5:2379'],
    ['several times', '$private_ipv4,$private_ipv4', full, '10.0.0.5,10.0.0.5'],
    ['escaped', '\\$private_ipv4', full, '$private_ipv4'],
    ['escaped dollar alone', 'price: \\$5', full, 'price: $5'],
    ['unknown value stays as written', 'http://$public_ipv4:80', none, 'http://$public_ipv4:80'],
    ['empty value stays as written', '$public_ipv4', { ...none, publicIpv4: '' }, '$public_ipv4'],
    ['other variables untouched', 'echo $HOME ${USER} $private_ip', full, 'echo $HOME ${USER} $private_ip'],
    ['plain text match, as CoreOS', '$private_ipv4x', full, '10.0.0.5x'],
    ['a value that names a variable is not substituted (nor re-read)', '$public_ipv4', { ...none, publicIpv4: '$private_ipv4' }, '$public_ipv4'],
    ['adjacent variables', '$public_ipv4$private_ipv4', full, '203.0.113.510.0.0.5'],
    ['no variables', 'hostname: a', full, 'hostname: a'],
    ['a value that could change the YAML stays out', 'a: $public_ipv4', { ...none, publicIpv4: '1.2.3.4\nusers: [evil]' }, 'a: $public_ipv4'],
    ['a value with quotes stays out', 'a: "$public_ipv4"', { ...none, publicIpv4: '1"; x' }, 'a: "$public_ipv4"'],
    ['IPv6 with a zone index', '$private_ipv6', { ...none, privateIpv6: 'fe80::1%eth0' }, 'fe80::1%eth0'],
  ])('%s', (_n, text, metadata, want) => {
    expect(substituteMetadata(text, metadata)).toBe(want);
  });

  test('substitution happens on the text, so the validated model carries the address', () => {
    const text = substituteMetadata('#cloud-config\ncoreos:\n  etcd2:\n    advertise_client_urls: http://$private_ipv4:2379\n', full);
    expect(validateCloudConfig(text).config?.etcd?.environment).toEqual({ ETCD_ADVERTISE_CLIENT_URLS: 'http://10.0.0.5:2379' });
  });
});
