import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { environmentAssignment, execLine, execWord, parseUnitFile, plainValue, printUnitFile, unitFileOf, unitListValues, unitValues } from '../../../src/systemd/unit-file.js';
import { KeelError } from '../../../src/errors.js';
import { installLinks } from '../../../src/systemd/install-links.js';
import { isNetworkdUnit, isValidUnitName, templateOf, unitNameParts } from '../../../src/systemd/unit-name.js';
import { parseEnvFile, printEnvFile, quoteEnvValue } from '../../../src/systemd/env-file.js';

const sample = `# comment
[Unit]
Description=demo \\
  service
; another comment
After=network.target

[Service]
ExecStart=/bin/sleep 1
Environment=A=1
Environment=B=2

[Install]
WantedBy=multi-user.target
WantedBy=
WantedBy=default.target  graphical.target
Alias=demo-alias.service
`;

describe('unit file model', () => {
  test('parses sections, repeated keys, continuations and comments', () => {
    const u = parseUnitFile(sample);
    expect(u.sections.map((s) => s.name)).toEqual(['Unit', 'Service', 'Install']);
    expect(unitValues(u, 'Unit', 'Description')).toEqual(['demo service']);
    expect(unitValues(u, 'Service', 'Environment')).toEqual(['A=1', 'B=2']);
    expect(unitListValues(u, 'Install', 'WantedBy')).toEqual(['default.target', 'graphical.target']);
  });

  test('print then parse gives the same model', () => {
    const u = parseUnitFile(sample);
    expect(parseUnitFile(printUnitFile(u))).toEqual(u);
  });

  test('unitFileOf prints sections in order', () => {
    expect(printUnitFile(unitFileOf({ Unit: [['Description', 'x']], Service: [['Type', 'oneshot']] }))).toBe('[Unit]\nDescription=x\n\n[Service]\nType=oneshot\n');
  });
});

describe('unit names', () => {
  test.each([
    ['app.service', true],
    ['getty@tty1.service', true],
    ['10-eth0.network', true],
    ['data.mount', true],
    ['noext', false],
    ['bad/name.service', false],
    ['x.unknown', false],
    ['.service', false],
    ['', false],
  ])('%s valid=%s', (name, valid) => expect(isValidUnitName(name)).toBe(valid));

  test.each([
    ['eth0.network', true],
    ['br0.netdev', true],
    ['00-nic.link', true],
    ['app.service', false],
  ])('%s networkd=%s', (name, expected) => expect(isNetworkdUnit(name)).toBe(expected));

  test('templates and instances', () => {
    expect(unitNameParts('getty@tty1.service')).toEqual({ prefix: 'getty', instance: 'tty1', suffix: 'service' });
    expect(templateOf('getty@tty1.service')).toBe('getty@.service');
    expect(templateOf('getty@.service')).toBeUndefined();
    expect(templateOf('app.service')).toBeUndefined();
  });
});

describe('install links', () => {
  const dir = '/etc/systemd/system';
  test('WantedBy, RequiredBy, Alias and Also', () => {
    const u = parseUnitFile('[Install]\nWantedBy=multi-user.target\nRequiredBy=x.target\nAlias=y.service\nAlso=z.socket\n');
    expect(installLinks('a.service', '/etc/systemd/system/a.service', u, dir)).toEqual({
      links: [
        { path: '/etc/systemd/system/multi-user.target.wants/a.service', target: '/etc/systemd/system/a.service' },
        { path: '/etc/systemd/system/x.target.requires/a.service', target: '/etc/systemd/system/a.service' },
        { path: '/etc/systemd/system/y.service', target: '/etc/systemd/system/a.service' },
      ],
      also: ['z.socket'],
    });
  });

  test('an instance links to its template file', () => {
    const u = parseUnitFile('[Install]\nWantedBy=getty.target\n');
    expect(installLinks('getty@tty2.service', '/lib/systemd/system/getty@.service', u, dir).links).toEqual([
      { path: '/etc/systemd/system/getty.target.wants/getty@tty2.service', target: '/lib/systemd/system/getty@.service' },
    ]);
  });

  test('a bare template uses DefaultInstance=', () => {
    const u = parseUnitFile('[Install]\nWantedBy=getty.target\nDefaultInstance=tty1\n');
    expect(installLinks('getty@.service', '/lib/systemd/system/getty@.service', u, dir).links[0]?.path).toBe('/etc/systemd/system/getty.target.wants/getty@tty1.service');
  });

  test('runtime links go under /run', () => {
    const u = parseUnitFile('[Install]\nWantedBy=multi-user.target\n');
    expect(installLinks('a.service', '/run/systemd/system/a.service', u, '/run/systemd/system').links[0]?.path).toBe('/run/systemd/system/multi-user.target.wants/a.service');
  });

  test('no [Install] section: nothing, with a note', () => {
    const r = installLinks('a.service', '/etc/systemd/system/a.service', parseUnitFile('[Service]\nExecStart=/bin/true\n'), dir);
    expect(r.links).toEqual([]);
    expect(r.note).toMatch(/no \[Install\] section/);
  });
});

describe('env files', () => {
  test.each([
    ['simple', 'simple'],
    ['etcd-lock', 'etcd-lock'],
    ['http://a:2379,http://b:2379', 'http://a:2379,http://b:2379'],
    ['two words', '"two words"'],
    ['', '""'],
    ['a"b$c', '"a\\"b\\$c"'],
  ])('%s is written as %s', (value, printed) => expect(quoteEnvValue(value)).toBe(printed));

  test('print then parse round-trips', () => {
    const values: [string, string][] = [['A', 'x y'], ['B', 'q"uote\\d $x'], ['C', 'plain']];
    const parsed = parseEnvFile(printEnvFile(['comment'], values));
    expect(parsed).toEqual(Object.fromEntries(values));
  });

  test('reads export prefixes, single quotes and comments', () => {
    expect(parseEnvFile("# c\nexport A='x y'\nB=2\n\nnot a line\n")).toEqual({ A: 'x y', B: '2' });
  });

  test('a quoted value with a line break is one value, not a second key (as the shell and systemd read it)', () => {
    const hostile = 'default\nREBOOT_STRATEGY=off';
    const text = printEnvFile([], [['GROUP', hostile], ['REBOOT_STRATEGY', 'etcd-lock']]);
    expect(parseEnvFile(text)).toEqual({ GROUP: hostile, REBOOT_STRATEGY: 'etcd-lock' });
    expect(parseEnvFile("A='x\nB=1'\nC=2\n")).toEqual({ A: 'x\nB=1', C: '2' });
  });

  test('a quote never closed is kept as the rest of its line; CRLF files read as LF', () => {
    expect(parseEnvFile('A="open\nB=2\n')).toEqual({ A: '"open', B: '2' });
    expect(parseEnvFile('A="x y"\r\nB=2\r\n')).toEqual({ A: 'x y', B: '2' });
  });

  test('print then parse round-trips any value (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('A', 'B_2', 'GROUP'), fc.string({ unit: 'binary' }))), (pairs) => {
        const expected = Object.fromEntries(pairs);
        expect(parseEnvFile(printEnvFile(['c'], pairs))).toEqual(expected);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('values into unit text: the one place', () => {
  const controls = ['\n', '\r', '\t', '\0', '\x01', '\x1b', '\x7f'];
  const unitWith = (value: string) => printUnitFile(unitFileOf({ Service: [['ExecStart', value]] }));

  test.each(controls)('a raw %j in a value is refused, never printed', (c) => {
    expect(() => unitWith(`/bin/true${c}x`)).toThrow(KeelError);
    expect(() => unitWith(`/bin/true${c}x`)).toThrow(/control character; refusing to write a unit/);
  });
  test.each([['Exec\nStart'], ['A=B'], [''], ['-x']])('the key %j is refused', (key) => {
    expect(() => printUnitFile(unitFileOf({ Service: [[key, 'x']] }))).toThrow(/unit key .* refusing/);
  });
  test('a section name with a newline or bracket is refused', () => {
    expect(() => printUnitFile(unitFileOf({ 'Unit]\n[Service': [['A', 'b']] }))).toThrow(/unit section/);
  });
  test.each([['a\\', true], ['a\\\\', false], ['a\\\\\\', true], ['a\\b', false]])('a value ending %j: refused=%s (a trailing backslash continues the line)', (value, refused) => {
    if (refused) expect(() => unitWith(value)).toThrow(/ends in a backslash/);
    else expect(unitWith(value)).toContain(`ExecStart=${value}\n`);
  });
  test('comments show control characters escaped, one # line per newline', () => {
    const text = printUnitFile({ header: ['one\ntwo\r[Service]\x1b'], sections: [{ name: 'Service', entries: [{ key: 'A', value: 'b', comment: 'x\ny' }] }] });
    expect(text).toBe('# one\n# two\\r[Service]\\x1b\n[Service]\n# x\n# y\nA=b\n');
    expect(parseUnitFile(text).sections).toEqual([{ name: 'Service', entries: [{ key: 'A', value: 'b' }] }]);
  });
  test('lines end at \\r and NUL as well, as systemd reads them', () => {
    expect(unitValues(parseUnitFile('[Service]\nA=1\rB=2\0C=3\r\n'), 'Service', 'B')).toEqual(['2']);
  });

  test.each([
    ['plain', 'plain'],
    ['--env=A=b', '--env=A=b'],
    ['two words', '"two words"'],
    ['100%', '100%%'],
    ['$HOME', '"$$HOME"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['a\\b', '"a\\\\b"'],
    ['', '""'],
    [';', '";"'],
    ['first line\r\nsecond line', '"first line\\r\\nsecond line"'],
    ['tab\there', '"tab\\there"'],
    ['bell\x07 esc\x1b del\x7f vt\x0b ff\x0c bs\b', '"bell\\a esc\\x1b del\\x7f vt\\v ff\\f bs\\b"'],
    ['nginx:1.25\n[Service]\nExecStartPre=/bin/sh -c "id"', '"nginx:1.25\\n[Service]\\nExecStartPre=/bin/sh -c \\"id\\""'],
  ])('execWord(%j) = %s', (word, quoted) => expect(execWord(word)).toBe(quoted));
  test('execWord keeps specifiers when asked, for keel\'s own %t words', () => expect(execWord('--cidfile=%t/%N.cid', true)).toBe('--cidfile=%t/%N.cid'));
  test('a NUL cannot be an argument: refused', () => expect(() => execWord('a\0b')).toThrow(/NUL byte/));
  test('execLine: a program starting with a prefix character is quoted; the prefix is not', () => {
    expect(execLine(['-x', 'a b'], { prefix: '-' })).toBe('-"-x" "a b"');
    expect(execLine(['/bin/rm', '-f', '%t/x'], { keepSpecifiers: ['%t/x'] })).toBe('/bin/rm -f %t/x');
  });
  test.each([
    ['A', 'x', 'A=x'],
    ['A', 'x y', '"A=x y"'],
    ['A', '$HOME 100%', '"A=$HOME 100%%"'],
    ['A', 'first line\r\nsecond "q" \\', '"A=first line\\r\\nsecond \\"q\\" \\\\"'],
  ])('environmentAssignment(%j, %j) = %s', (name, value, text) => expect(environmentAssignment(name, value)).toBe(text));
  test('environmentAssignment refuses a name that is not one', () => expect(() => environmentAssignment('A\nB', 'x')).toThrow(/environment variable name/));
  test('plainValue escapes % only and refuses control characters (Description= has no escapes)', () => {
    expect(plainValue('50% of $x')).toBe('50%% of $x');
    expect(() => plainValue('a\nb')).toThrow(/cannot express/);
  });

  test('an injection attempt stays one word of one line', () => {
    const evil = 'nginx:1.25\n[Service]\nExecStartPre=/bin/sh -c \'touch /pwned\'';
    const text = printUnitFile({ sections: [{ name: 'Service', entries: [{ key: 'ExecStart', value: execLine(['/usr/bin/podman', 'run', evil]) }, { key: 'Environment', value: environmentAssignment('X', evil) }] }] });
    const u = parseUnitFile(text);
    expect(u.sections.map((s) => s.name)).toEqual(['Service']);
    expect(u.sections[0]!.entries.map((e) => e.key)).toEqual(['ExecStart', 'Environment']);
  });
});
