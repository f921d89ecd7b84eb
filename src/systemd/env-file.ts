/**
 * `KEY=value` environment files, the form of systemd's EnvironmentFile= and of CoreOS's
 * /etc/coreos/update.conf: keel's own config files (/etc/keel/update.conf, lock.conf)
 * use it so that shell scripts, systemd units and keel all read them the same way.
 */

/** Characters that make a value need quotes in a shell and in systemd. */
const needsQuotes = /[^A-Za-z0-9_@%+=:,./-]/;

/** Quotes a value with double quotes when it needs them (`"`, `\`, `$` and backquote escaped). */
export function quoteEnvValue(value: string): string {
  if (value !== '' && !needsQuotes.test(value)) return value;
  return `"${value.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`;
}

/** Prints `KEY=value` lines after `#` comment lines; undefined values are left out. */
export function printEnvFile(comment: string[], pairs: [string, string | undefined][]): string {
  const lines = comment.map((c) => (c === '' ? '#' : `# ${c}`));
  for (const [key, value] of pairs) if (value !== undefined) lines.push(`${key}=${quoteEnvValue(value)}`);
  return lines.join('\n') + '\n';
}

/**
 * Reads an env file: `KEY=value`, `KEY="value"` or `KEY='value'`, `#` comments, an optional
 * `export ` prefix. Later keys win, as when a shell sources the file.
 */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim().replace(/^export\s+/, '');
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    const value = m[2] ?? '';
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) out[m[1]!] = value.slice(1, -1).replace(/\\(.)/g, '$1');
    else if (value.startsWith("'") && value.endsWith("'") && value.length >= 2) out[m[1]!] = value.slice(1, -1);
    else out[m[1]!] = value;
  }
  return out;
}
