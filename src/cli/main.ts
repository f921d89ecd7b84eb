import { KeelError, exitCodeOf } from '../errors.js';
import { type Command, type CommandGroup, type LazyCommand, commandHelp, groupHelp, isGroup, loadedCommand, parseCommandArgs } from './command.js';
import { version } from '../version.js';

/**
 * Every top-level word of `keel`, in the order --help lists them. Each group is loaded only
 * when it is called: etcd's gRPC stack costs ~150 ms of start-up that `cloud-config validate`
 * (and first boot under TCG, where node start-up is seconds) should not pay.
 */
interface Entry {
  name: string;
  summary: string;
  load(): Promise<Command | CommandGroup<Command | LazyCommand>>;
}

export const entries: Entry[] = [
  { name: 'cloud-config', summary: 'validate, plan and apply a cloud-config', load: async () => (await import('./cloud-config.js')).cloudConfigCommands },
  { name: 'update', summary: 'atomic A/B updates: status, check, apply, rollback, publish, install, agent', load: async () => (await import('./update.js')).updateCommands },
  { name: 'lock', summary: 'reboot coordination: an etcd semaphore and a FleetLock server', load: async () => (await import('./lock.js')).lockCommands },
  { name: 'fleet', summary: "the fleet's records in etcd: status, halt and resume a rollout, the dashboard", load: async () => (await import('./fleet.js')).fleetCommands },
  { name: 'containers', summary: 'containers run as systemd units: list, status, logs, restart, apply, render, supervise', load: async () => (await import('./containers.js')).containersCommands },
  { name: 'install', summary: 'write a keel disk image to a device, with a cloud-config for first boot', load: async () => (await import('./install.js')).installCommand },
];

function topHelp(): string {
  const lines = ['usage: keel [--version] [--help] COMMAND [options]', '', 'keel: a container host that configures itself from cloud-config, runs containers under systemd and updates itself atomically.', '', 'commands:'];
  for (const e of entries) lines.push(`  ${e.name.padEnd(14)} ${e.summary}`);
  lines.push('', "run 'keel COMMAND --help' for more");
  return lines.join('\n') + '\n';
}

async function runCommand(prefix: string, command: Command, argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(command, argv);
  if (values.help) {
    process.stdout.write(commandHelp(prefix, command));
    return 0;
  }
  // The streams are made on first use: a command that prints nothing (a valid config's
  // validate) does not load node's stream modules for them (about a millisecond).
  return command.run({
    values,
    positionals,
    json: values.json === true,
    get stdout() {
      return process.stdout;
    },
    get stderr() {
      return process.stderr;
    },
  });
}

/** Runs keel with the given arguments (without node and script) and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    const [word, ...rest] = argv;
    if (word === undefined || word === '--help' || word === '-h' || word === 'help') {
      process.stdout.write(topHelp());
      return word === undefined ? 2 : 0;
    }
    if (word === '--version' || word === 'version') {
      process.stdout.write(`keel ${version}\n`);
      return 0;
    }
    const found = entries.find((e) => e.name === word);
    if (!found) throw new KeelError('usage', `unknown command '${word}'; run 'keel --help'`);
    const entry = await found.load();
    if (!isGroup(entry)) return await runCommand('keel', entry, rest);
    const [sub, ...args] = rest;
    if (sub === undefined || sub === '--help' || sub === '-h') {
      process.stdout.write(groupHelp('keel', entry));
      return sub === undefined ? 2 : 0;
    }
    const command = entry.commands.find((c) => c.name === sub);
    if (!command) throw new KeelError('usage', `unknown command 'keel ${entry.name} ${sub}'; run 'keel ${entry.name} --help'`);
    return await runCommand(`keel ${entry.name}`, await loadedCommand(command), args);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`keel: ${message}\n`);
    if (process.env.KEEL_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    return exitCodeOf(error);
  }
}
