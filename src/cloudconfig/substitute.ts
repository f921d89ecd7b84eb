/**
 * `$public_ipv4`, `$private_ipv4`, `$public_ipv6`, `$private_ipv6` replaced by the datasource's
 * addresses in the user-data text before it is parsed, as coreos-cloudinit does; `\$` stands
 * for a literal `$`. A variable the metadata has no value for is left as written (CoreOS does
 * the same), so a config still parses and the unexpanded text shows where the value was
 * missing. Any other `$word` (shell in runcmd, `$HOME` in units) is untouched. As in CoreOS the
 * match is plain text: `$private_ipv4:2379` works, and so would `$private_ipv4x` (→ `10.0.0.1x`).
 * Lines never move; columns after a substituted value on its line do (by the length change).
 */
import type { Metadata } from './metadata.js';

/** The variables and the metadata field each reads. */
export const substitutionVariables = {
  public_ipv4: 'publicIpv4',
  private_ipv4: 'privateIpv4',
  public_ipv6: 'publicIpv6',
  private_ipv6: 'privateIpv6',
} as const satisfies Record<string, keyof Metadata>;

/**
 * What an address may look like to be substituted (IPv4, IPv6, a zone index): a value with
 * spaces, quotes or line breaks could change the YAML around it, so it is left out (the
 * variable stays as written).
 */
const addressLike = /^[0-9A-Za-z.:%[\]-]{1,64}$/;

/** Returns the text with known variables replaced; `\$` becomes `$` everywhere. */
export function substituteMetadata(text: string, metadata: Metadata): string {
  // One pass, so a value that itself contains `$private_ipv4` or `\$` is never re-read.
  return text.replace(/\\\$|\$(public_ipv4|private_ipv4|public_ipv6|private_ipv6)/g, (match, name: string | undefined) => {
    if (name === undefined) return '$';
    const value = metadata[substitutionVariables[name as keyof typeof substitutionVariables]];
    return typeof value === 'string' && addressLike.test(value) ? value : match;
  });
}
