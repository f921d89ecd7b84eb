/**
 * Instance ids as the planner uses them: the safe form that names files and units. The id
 * derived from the user-data when a datasource gives none is in user-data-digest.ts.
 */

/** Instance ids come from datasources: keep file and unit names to a safe alphabet. */
export function safeInstanceName(instanceId: string): string {
  return instanceId.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\.+/, '_').slice(0, 200);
}
