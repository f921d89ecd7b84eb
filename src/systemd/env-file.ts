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
 * `export ` prefix. Later keys win, as when a shell sources the file. A quoted value runs to
 * its closing quote, across line breaks, as the shell and systemd read it: a value holding
 * `\nOTHER=x` (which printEnvFile quotes) stays one value, never a second key.
 */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const assignment = /[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)=/y;
  for (let at = 0; at < text.length; ) {
    assignment.lastIndex = at;
    const m = assignment.exec(text);
    if (!m) {
      at = lineEndAfter(text, at);
      continue;
    }
    const read = readValue(text, assignment.lastIndex);
    out[m[1]!] = read.value;
    at = lineEndAfter(text, read.end);
  }
  return out;
}

/** The value at `from`: quoted up to its closing quote, else the rest of the line. */
function readValue(text: string, from: number): { value: string; end: number } {
  const quote = text[from];
  if (quote === '"' || quote === "'") {
    const close = quote === '"' ? /(?:[^"\\]|\\[^])*"/y : /[^']*'/y;
    close.lastIndex = from + 1;
    if (close.exec(text)) {
      const body = text.slice(from + 1, close.lastIndex - 1);
      return { value: quote === '"' ? body.replace(/\\([^])/g, '$1') : body, end: close.lastIndex };
    }
    // Never closed: the rest of the line as it stands.
  }
  const end = lineEndAfter(text, from) - 1;
  return { value: text.slice(from, end).replace(/\r$/, '').trimEnd(), end };
}

/** The index after the line break that ends the line holding `at` (or the text's end). */
function lineEndAfter(text: string, at: number): number {
  const newline = text.indexOf('\n', at);
  return newline < 0 ? text.length + 1 : newline + 1;
}
