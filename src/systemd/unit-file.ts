/**
 * A pure model of systemd's INI-like unit files: sections of ordered `Key=Value` entries.
 * Enough to read a unit's [Install] section and to print the units and drop-ins keel
 * generates; comments are dropped on parse because nothing keel does needs them back.
 *
 * This is the one place where a value becomes unit-file text. The encoders below
 * (`plainValue`, `execWord`, `execLine`, `environmentAssignment`) turn a value into the
 * syntax of one kind of setting, and `printUnitFile` refuses any line that systemd would
 * read as something else: systemd ends a line at `\n`, `\r` or NUL and continues one that
 * ends in a backslash, so a control character in a value could start a new `[Service]`
 * section with an `ExecStartPre=` of its own.
 */
import { KeelError } from '../errors.js';

/** One `Key=Value` line, in file order (systemd keys repeat, e.g. `Environment=`). */
export interface UnitEntry {
  key: string;
  /** Unit-file syntax: user text must come through one of the encoders below. */
  value: string;
  /** Printed as `# …` lines just before the entry; control characters are shown escaped. */
  comment?: string;
}

export interface UnitSection {
  name: string;
  entries: UnitEntry[];
}

/** A parsed unit file or drop-in: its sections in file order. */
export interface UnitFile {
  /** `# …` lines before the first section. */
  header?: string[];
  sections: UnitSection[];
}

/**
 * Parses unit file text the way systemd reads it: lines end at `\n`, `\r\n`, `\r` or NUL,
 * `#` and `;` start comments, a trailing `\` continues a value on the next line (joined
 * with a space), whitespace around `=` is dropped. Lines outside any section or without
 * `=` are ignored, as systemd ignores them with a warning.
 */
export function parseUnitFile(text: string): UnitFile {
  const sections: UnitSection[] = [];
  let current: UnitSection | undefined;
  const lines = text.split(/\r\n|[\r\n\0]/);
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

/** C0 controls and DEL: none may reach a unit file raw. */
const controlCharacter = /[\x00-\x1f\x7f]/;

/** A control character as C source shows it: `\n`, `\r`, `\x1b`. */
function escapedControl(c: string): string {
  const named: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\t': '\\t', '\n': '\\n', '\v': '\\v', '\f': '\\f', '\r': '\\r' };
  return named[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

function refuse(what: string, text: string, why: string): never {
  throw new KeelError('invalid-input', `${what} ${JSON.stringify(text)} ${why}; refusing to write a unit that systemd would read differently`);
}

/** Checks one printed line's parts; see the file comment for why each rule exists. */
function checkEntry(section: string, entry: UnitEntry): void {
  const where = `unit setting [${section}] ${entry.key}=`;
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(entry.key)) refuse('unit key', entry.key, 'is not a key of letters, digits, - and _');
  if (controlCharacter.test(entry.value)) refuse(where, entry.value, 'contains a control character');
  // An odd number of trailing backslashes makes systemd join the next line to this one.
  if (/(^|[^\\])(\\\\)*\\$/.test(entry.value)) refuse(where, entry.value, 'ends in a backslash (a line continuation)');
}

function commentLines(text: string): string[] {
  return text.split('\n').map((l) => `# ${l.replace(/[\x00-\x1f\x7f]/g, escapedControl)}`.trimEnd());
}

/** Prints a unit file: header comments, one blank line between sections, newline-terminated. Throws on unsafe text. */
export function printUnitFile(unit: UnitFile): string {
  const head = (unit.header ?? []).flatMap(commentLines);
  const body = unit.sections.map((s) => {
    if (!/^[A-Za-z][A-Za-z0-9 ._-]*$/.test(s.name)) refuse('unit section', s.name, 'is not a section name');
    const lines = s.entries.flatMap((e) => {
      checkEntry(s.name, e);
      return [...(e.comment !== undefined ? commentLines(e.comment) : []), `${e.key}=${e.value}`];
    });
    return [`[${s.name}]`, ...lines].join('\n') + '\n';
  });
  return (head.length ? head.join('\n') + '\n' : '') + body.join('\n');
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

/** Escapes `%` so systemd's specifier expansion gives the text back. */
function specifierLiteral(text: string): string {
  return text.replace(/%/g, '%%');
}

/**
 * A value for a setting systemd takes verbatim after specifier expansion (Description=,
 * SyslogIdentifier=): `%` is escaped; such settings have no escape for a control character,
 * so one is refused.
 */
export function plainValue(text: string): string {
  if (controlCharacter.test(text)) refuse('the value', text, 'contains a control character, which this setting cannot express');
  return specifierLiteral(text);
}

/** Double-quoted with C escapes, the form systemd's word splitting unquotes and unescapes. */
function quotedWord(text: string, what: string): string {
  if (text.includes('\0')) refuse(what, text, 'contains a NUL byte, which no argument or variable can hold');
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/[\x01-\x1f\x7f]/g, escapedControl)}"`;
}

/** Words that need no quotes in Exec*= and Environment= (`;` alone would end a command). */
const bareWord = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Quotes one argv word for an Exec*= line; plain words stay bare so units read well.
 * `%` and `$` are escaped (systemd expands specifiers and `$VAR` in Exec lines) unless
 * `keepSpecifiers`, for keel's own `%t`-style words.
 */
export function execWord(word: string, keepSpecifiers = false): string {
  const w = keepSpecifiers ? word : specifierLiteral(word).replace(/\$/g, '$$$$');
  return w !== '' && bareWord.test(w) ? w : quotedWord(w, 'the argument');
}

/**
 * A whole Exec*= value: `prefix` (systemd's `-`, `+`, `!`…) then the words. A program that
 * starts with a prefix character itself is quoted so systemd reads it as a name.
 */
export function execLine(argv: readonly string[], options: { prefix?: string; keepSpecifiers?: readonly string[] } = {}): string {
  const words = argv.map((w) => execWord(w, options.keepSpecifiers?.includes(w) ?? false));
  if (words[0] !== undefined && /^[-@:+!|]/.test(words[0])) words[0] = quotedWord(words[0], 'the program');
  return `${options.prefix ?? ''}${words.join(' ')}`;
}

/**
 * An `Environment=` assignment of one variable. systemd unquotes and C-unescapes it and
 * expands specifiers but not `$`, so only `%` is escaped besides the quoting.
 */
export function environmentAssignment(name: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) refuse('the environment variable name', name, 'is not a name of letters, digits and _');
  const text = `${name}=${specifierLiteral(value)}`;
  return bareWord.test(text) ? text : quotedWord(text, 'the environment value');
}
