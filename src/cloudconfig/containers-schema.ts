/**
 * `keel.containers`: discovery endpoints plus container specs. Each spec is the one container
 * spec description (src/containers/spec-schema.ts) that the supervisor also reads spec files
 * with, so a spec means the same in cloud-config and in /etc/keel/containers.
 */
import { s, urlList } from '../schema/index.js';
import type { ContainerSpec } from '../containers/spec.js';
import { containerSpecSchema } from '../containers/spec-schema.js';
import type { ContainersSettings } from './model.js';

/** `keel.containers`: specs plus discovery endpoints; names must be unique. */
export const containersSchema = s.object(
  { discovery_endpoints: urlList, specs: s.list(containerSpecSchema) },
  {
    description: 'containers run under systemd by the keel supervisor',
    refine: (v, ctx): ContainersSettings => {
      const specs = (v.specs as (ContainerSpec | undefined)[] | undefined ?? []).filter((x): x is ContainerSpec => x !== undefined);
      // Point at the spec itself when every written spec was read (indices then match the list).
      const aligned = ctx.itemCount('specs') === specs.length;
      const at = (i: number, key: string) => (aligned ? ['specs', i, key] : ['specs']);
      const names = new Set(specs.map((spec) => spec.name));
      const seen = new Set<string>();
      specs.forEach((spec, i) => {
        if (seen.has(spec.name)) ctx.at(at(i, 'name'), 'error', `two containers are named ${JSON.stringify(spec.name)}; expected unique names`);
        seen.add(spec.name);
        for (const key of ['after', 'requires'] as const)
          for (const dep of spec[key])
            if (!names.has(dep)) ctx.at(at(i, key), 'warning', `container ${JSON.stringify(spec.name)} depends on ${JSON.stringify(dep)}, which is not among these specs; it must come from /etc/keel/containers`);
      });
      return { specs, discoveryEndpoints: (v.discovery_endpoints as string[] | undefined) ?? [] };
    },
  },
);
