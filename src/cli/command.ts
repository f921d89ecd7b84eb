import { parseArgs } from 'node:util';
import { KeelError } from '../errors.js';

/** One option of a command, as `node:util` parseArgs takes it, plus its help line. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Shown in --help; name the value in caps, e.g. `--root DIR`. */
  description: string;
  valueName?: string;
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

/** What a command's `run` receives: parsed options, positionals and where to write. */
export interface CommandContext {
  values: OptionValues;
  positionals: string[];
  /** `--json` was given: print machine-readable data on stdout and nothing else. */
  json: boolean;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** A leaf command. `run` returns the exit code (0 ok, 1 failure or invalid input). */
export interface Command {
  name: string;
  summary: string;
  /** Positional part of the usage line, e.g. `FILE…`. */
  usage?: string;
  options?: Record<string, OptionSpec>;
  /** Accepts `--json`. */
  json?: boolean;
  minPositionals?: number;
  maxPositionals?: number;
  /** Longer text printed under the usage in --help. */
  details?: string;
  run(ctx: CommandContext): Promise<number>;
}

/** A group of commands under one word: `keel lock acquire`. */
export interface CommandGroup {
  name: string;
  summary: string;
  commands: Command[];
}

export function isGroup(entry: Command | CommandGroup): entry is CommandGroup {
  return 'commands' in entry;
}

const helpOption: OptionSpec = { type: 'boolean', short: 'h', description: 'show this help' };
const jsonOption: OptionSpec = { type: 'boolean', description: 'print machine-readable JSON' };

function optionsOf(command: Command): Record<string, OptionSpec> {
  return { ...(command.options ?? {}), ...(command.json ? { json: jsonOption } : {}), help: helpOption };
}

/** The --help text of a command. */
export function commandHelp(prefix: string, command: Command): string {
  const lines = [`usage: ${prefix} ${command.name}${command.options || command.json ? ' [options]' : ''}${command.usage ? ` ${command.usage}` : ''}`, '', command.summary];
  if (command.details) lines.push('', command.details.trimEnd());
  lines.push('', 'options:');
  for (const [name, spec] of Object.entries(optionsOf(command))) {
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.type === 'string' ? ` ${spec.valueName ?? 'VALUE'}` : ''}`;
    lines.push(`  ${flag.padEnd(28)} ${spec.description}`);
  }
  return lines.join('\n') + '\n';
}

/** The --help text of a group. */
export function groupHelp(prefix: string, group: CommandGroup): string {
  const width = Math.max(...group.commands.map((c) => c.name.length)) + 2;
  const lines = [`usage: ${prefix} ${group.name} COMMAND [options]`, '', group.summary, '', 'commands:'];
  for (const c of group.commands) lines.push(`  ${c.name.padEnd(width)} ${c.summary}`);
  lines.push('', `run '${prefix} ${group.name} COMMAND --help' for a command's options`);
  return lines.join('\n') + '\n';
}

/** Parses argv for a command; usage errors become KeelError('usage'). */
export function parseCommandArgs(command: Command, argv: string[]): { values: OptionValues; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: optionsOf(command), allowPositionals: true, strict: true });
  } catch (error) {
    throw new KeelError('usage', (error as Error).message.replace(/^./, (c) => c.toLowerCase()), { cause: error });
  }
  const { values, positionals } = parsed;
  if (!values.help) {
    if (command.minPositionals !== undefined && positionals.length < command.minPositionals)
      throw new KeelError('usage', `${command.name}: expected ${command.usage ?? 'more arguments'}`);
    if (command.maxPositionals !== undefined && positionals.length > command.maxPositionals)
      throw new KeelError('usage', `${command.name}: unexpected argument '${positionals[command.maxPositionals]}'`);
  }
  return { values: values as OptionValues, positionals };
}

/** Reads a string option, or undefined. Throws usage on a repeated flag given as a list. */
export function stringOption(values: OptionValues, name: string): string | undefined {
  const v = values[name];
  if (v === undefined || typeof v === 'boolean') return undefined;
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/** Prints JSON data on stdout, one document, newline-terminated. */
export function printJson(ctx: CommandContext, data: unknown): void {
  ctx.stdout.write(JSON.stringify(data, null, 2) + '\n');
}
