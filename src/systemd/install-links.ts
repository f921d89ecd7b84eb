/**
 * What `systemctl enable` does to the filesystem, computed purely: the [Install] section
 * of a unit becomes symlinks (`WantedBy=` → `<target>.wants/<unit>`, `RequiredBy=` →
 * `<target>.requires/<unit>`, `Alias=` → `<alias>`), and `Also=` names more units to enable.
 */
import { type UnitFile, unitListValues, unitValues } from './unit-file.js';
import { unitNameParts } from './unit-name.js';

/** One symlink to create: `path` (absolute, in the host's view) pointing at `target`. */
export interface InstallLink {
  path: string;
  target: string;
}

export interface InstallPlan {
  links: InstallLink[];
  /** Units named by `Also=`, to be enabled as well. */
  also: string[];
  /** Why nothing could be enabled, e.g. no [Install] section (systemctl says the same). */
  note?: string;
}

/**
 * Links for enabling `unit`, whose file (or template file) is at `unitPath` and parsed as
 * `file`. `linkDir` is /etc/systemd/system, or /run/systemd/system for a runtime enable.
 */
export function installLinks(unit: string, unitPath: string, file: UnitFile, linkDir: string): InstallPlan {
  const wantedBy = unitListValues(file, 'Install', 'WantedBy');
  const requiredBy = unitListValues(file, 'Install', 'RequiredBy');
  const aliases = unitListValues(file, 'Install', 'Alias');
  const also = unitListValues(file, 'Install', 'Also');
  const parts = unitNameParts(unit);
  let linkName = unit;
  if (parts.instance === '') {
    // A bare template is enabled through its DefaultInstance=, as systemctl does.
    const instance = unitValues(file, 'Install', 'DefaultInstance').pop();
    if (!instance) {
      if (wantedBy.length + requiredBy.length + aliases.length > 0)
        return { links: [], also, note: `${unit} is a template without DefaultInstance=; enable an instance such as ${parts.prefix}@NAME.${parts.suffix}` };
      linkName = '';
    } else linkName = `${parts.prefix}@${instance}.${parts.suffix}`;
  }
  const links: InstallLink[] = [];
  if (linkName !== '') {
    for (const target of wantedBy) links.push({ path: `${linkDir}/${target}.wants/${linkName}`, target: unitPath });
    for (const target of requiredBy) links.push({ path: `${linkDir}/${target}.requires/${linkName}`, target: unitPath });
  }
  for (const alias of aliases) links.push({ path: `${linkDir}/${alias}`, target: unitPath });
  const note = links.length === 0 && also.length === 0 ? `${unit} has no [Install] section with WantedBy=, RequiredBy=, Alias= or Also=; nothing to enable` : undefined;
  return { links, also, ...(note ? { note } : {}) };
}

/** Where systemd looks for system units, most important first (paths inside the root). */
export const unitSearchPath = ['/etc/systemd/system', '/run/systemd/system', '/usr/local/lib/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system'];
