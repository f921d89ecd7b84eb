/**
 * The commands systemd runs on a unit as a job (systemctl's verbs of the same names). The
 * vocabulary of the unit managers in `src/host/`; cloud-config's `units[].command` takes
 * exactly these.
 */

/** Every unit command, in the order messages list them. */
export const unitCommands = ['start', 'stop', 'restart', 'reload', 'try-restart', 'reload-or-restart', 'reload-or-try-restart'] as const;

export type UnitCommand = (typeof unitCommands)[number];

