/**
 * A pure model of systemd's INI-like unit files: sections of ordered `Key=Value` entries.
 * Enough to read a unit's [Install] section and to print the units and drop-ins keel
 * generates; comments are dropped on parse because nothing keel does needs them back.
 */

/** One `Key=Value` line, in file order (systemd keys repeat, e.g. `Environment=`). */
export interface UnitEntry {
  key: string;
  value: string;
}

export interface UnitSection {
  name: string;
  entries: UnitEntry[];
}

/** A parsed unit file or drop-in: its sections in file order. */
export interface UnitFile {
  sections: UnitSection[];
}

/**
 * Parses unit file text the way systemd reads it: `#` and `;` start comments, a trailing
 * `\` continues a value on the next line (joined with a space), whitespace around `=` is
 * dropped. Lines outside any section or without `=` are ignored, as systemd ignores them
 * with a warning.
 */
export function parseUnitFile(text: string): UnitFile {
  const sections: UnitSection[] = [];
  let current: UnitSection | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = (lines[i] ?? '').trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      current = { name: header[1] ?? '', entries: [] };
      sections.push(current);
      continue;
    }
    while (line.endsWith('\\') && i + 1 < lines.length) {
      const next = (lines[++i] ?? '').trim();
      // comment lines inside a continuation are skipped, as systemd does
      if (next.startsWith('#') || next.startsWith(';')) continue;
      line = `${line.slice(0, -1).trimEnd()} ${next}`.trimEnd();
    }
    const eq = line.indexOf('=');
    if (!current || eq <= 0) continue;
    current.entries.push({ key: line.slice(0, eq).trim(), value: line.slice(eq + 1).trim() });
  }
  return { sections };
}

/** Prints a unit file: one blank line between sections, newline-terminated. */
export function printUnitFile(unit: UnitFile): string {
  return unit.sections.map((s) => [`[${s.name}]`, ...s.entries.map((e) => `${e.key}=${e.value}`)].join('\n') + '\n').join('\n');
}

/** Every value of `key` in every section called `section`, in order. */
export function unitValues(unit: UnitFile, section: string, key: string): string[] {
  return unit.sections.filter((s) => s.name === section).flatMap((s) => s.entries.filter((e) => e.key === key).map((e) => e.value));
}

/**
 * Values of a list-valued key (`WantedBy=a b`), split on whitespace. An empty assignment
 * resets the list, as systemd does.
 */
export function unitListValues(unit: UnitFile, section: string, key: string): string[] {
  let out: string[] = [];
  for (const value of unitValues(unit, section, key)) {
    if (value === '') out = [];
    else out.push(...value.split(/\s+/).filter((w) => w !== ''));
  }
  return out;
}

/** Builds a unit file from `{Section: [[key, value], ...]}`, the form keel's generators write. */
export function unitFileOf(sections: Record<string, [string, string][]>): UnitFile {
  return { sections: Object.entries(sections).map(([name, pairs]) => ({ name, entries: pairs.map(([key, value]) => ({ key, value })) })) };
}
