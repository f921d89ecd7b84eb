// Golden fixtures, quadlet-style: each test/fixtures/containers/NAME.yaml beside the
// NAME.service it must become. KEEL_UPDATE_FIXTURES=1 rewrites the .service files (review the diff).
// A fixture's header states what its unit must show, checked even when the golden is rewritten:
// `# must contain: TEXT`, `# must not contain: TEXT`, and `# warns: LINE:COL: warning: …` for the
// only problems its spec may have.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseSpec } from '../../../src/containers/spec-schema.js';
import { containerNameOf, defaultRenderOptions, unitFromSpec, unitNameOf } from '../../../src/containers/unit-from-spec.js';
import { parseUnitFile } from '../../../src/systemd/unit-file.js';

const dir = join(import.meta.dirname, '../../fixtures/containers');
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();

function optionsOf(text: string) {
  const m = /^# render-options: (.*)$/m.exec(text);
  return { ...defaultRenderOptions, ...(m ? JSON.parse(m[1]!) : {}) };
}

function headerLines(text: string, label: string): string[] {
  return [...text.matchAll(new RegExp(`^# ${label}: (.*)$`, 'gm'))].map((m) => m[1]!);
}

describe('spec → unit fixtures', () => {
  test('there are at least 8 fixtures', () => expect(fixtures.length).toBeGreaterThanOrEqual(8));

  test.each(fixtures)('%s', (file) => {
    const text = readFileSync(join(dir, file), 'utf8');
    const { spec, problems } = parseSpec(text, file.replace(/\.yaml$/, ''));
    const warns = headerLines(text, 'warns');
    expect(problems.map((p) => `${p.line}:${p.column}: ${p.severity}: ${p.path}: ${p.message}`).map((p, i) => p.slice(0, warns[i]?.length))).toEqual(warns);
    const unit = unitFromSpec(spec!, optionsOf(text));
    for (const t of headerLines(text, 'must contain')) expect(unit).toContain(t);
    for (const t of headerLines(text, 'must not contain')) expect(unit).not.toContain(t);
    const golden = join(dir, file.replace(/\.yaml$/, '.service'));
    if (process.env.KEEL_UPDATE_FIXTURES) writeFileSync(golden, unit);
    expect(existsSync(golden), `${golden} exists`).toBe(true);
    expect(unit).toBe(readFileSync(golden, 'utf8'));
  });

  test('every spec field appears in some fixture', () => {
    const keys = new Set<string>();
    for (const f of fixtures) for (const m of readFileSync(join(dir, f), 'utf8').matchAll(/^ {0,2}([a-z_-]+):/gm)) keys.add(m[1]!.replace(/-/g, '_'));
    for (const k of ['name', 'image', 'command', 'args', 'environment', 'environment_files', 'ports', 'volumes', 'restart', 'restart_delay', 'restart_max_delay', 'health', 'resources', 'memory', 'cpus', 'pids', 'after', 'requires', 'user', 'read_only', 'network', 'no_new_privileges', 'cap_add', 'cap_drop', 'userns', 'seccomp', 'apparmor', 'privileged'])
      expect(keys, k).toContain(k);
  });
});

describe('every unit', () => {
  test.each(fixtures)('%s sets the supervision contract explicitly', (file) => {
    const text = readFileSync(join(dir, file), 'utf8');
    const unit = unitFromSpec(parseSpec(text).spec!, optionsOf(text));
    for (const line of ['Type=notify', 'NotifyAccess=all', 'KillMode=mixed']) expect(unit).toContain(`\n${line}\n`);
    expect(unit).toMatch(/\nRestart=(no|always|on-failure)\n/);
    expect(unit).toMatch(/\nExecStart=\/usr\/bin\/podman run --cidfile=%t\/%N.cid --replace --rm --cgroups=split --sdnotify=conmon --init /);
    expect(unit).toMatch(/\nExecStop=\/usr\/bin\/podman stop .*--cidfile=%t\/%N.cid\n/);
    expect(unit).not.toContain('runc');
  });
});

describe('names and quoting', () => {
  test.each([
    ['web', 'keel-container-web.service'],
    ['a.b_c-1', 'keel-container-a.b_c-1.service'],
  ])('%s ⇄ %s', (name, unit) => {
    expect(unitNameOf(name)).toBe(unit);
    expect(containerNameOf(unit)).toBe(name);
  });
  test('other units are not containers', () => expect(containerNameOf('sshd.service')).toBeUndefined());
  test('the runtime comes from options, never hardcoded', () => {
    const spec = parseSpec('name: x\nimage: i\n').spec!;
    expect(unitFromSpec(spec, { ...defaultRenderOptions, podmanArgs: ['--runtime', 'runc'] })).toContain('ExecStart=/usr/bin/podman --runtime runc run ');
  });
});

describe('values from a spec reach the unit only through the unit model', () => {
  const base = parseSpec('name: x\nimage: localhost/x:1\n').spec!;
  test('an image with a newline that skipped validation is refused, not rendered', () => {
    expect(() => unitFromSpec({ ...base, image: 'nginx:1.25\n[Service]\nExecStartPre=/bin/sh -c id' })).toThrow(/control character.*refusing to write a unit/);
  });
  test('an environment value with CR LF and any other control character stays inside its quoted word', () => {
    const unit = unitFromSpec({ ...base, environment: { A: 'one\r\n[Service]\nExecStartPre=/bin/sh -c id\x1b\x7f' } });
    expect(unit).toContain('--env "A=one\\r\\n[Service]\\nExecStartPre=/bin/sh -c id\\x1b\\x7f" ');
    expect(parseUnitFile(unit).sections.map((s) => s.name)).toEqual(['Unit', 'Service']);
    expect(unit.match(/^ExecStartPre=/gm)).toHaveLength(1);
  });
  test('a % or $ in Description= is shown as written', () => {
    expect(unitFromSpec({ ...base, image: 'localhost/x:1%n' })).toContain('Description=keel container x (localhost/x:1%%n)\n');
  });
});
