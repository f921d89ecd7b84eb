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
  /** A whole-number option: parseCommandArgs refuses anything but decimal digits in this range. */
  wholeNumber?: WholeNumberRange;
}

/** The accepted range of a whole-number option, and what one unit is (for the message). */
export interface WholeNumberRange {
  min: number;
  max: number;
  unit?: string;
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

/**
 * A command of a group whose module is loaded only when that command runs or shows its own
 * help: the group's --help needs no more than the name and summary. Keeps, e.g., apply's
 * D-Bus and process stack out of `keel cloud-config validate`'s start-up.
 */
export interface LazyCommand {
  name: string;
  /** Must equal the loaded command's summary (a unit test checks every group). */
  summary: string;
  load(): Promise<Command>;
}

/** A group of commands under one word: `keel lock acquire`. */
export interface CommandGroup<C extends Command | LazyCommand = Command> {
  name: string;
  summary: string;
  commands: C[];
}

export function isGroup(entry: Command | CommandGroup<Command | LazyCommand>): entry is CommandGroup<Command | LazyCommand> {
  return 'commands' in entry;
}

export function isLazy(command: Command | LazyCommand): command is LazyCommand {
  return 'load' in command;
}

/** The command itself, loading its module if it is lazy. */
export async function loadedCommand(command: Command | LazyCommand): Promise<Command> {
  return isLazy(command) ? command.load() : command;
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
export function groupHelp(prefix: string, group: CommandGroup<Command | LazyCommand>): string {
  const width = Math.max(...group.commands.map((c) => c.name.length)) + 2;
  const lines = [`usage: ${prefix} ${group.name} COMMAND [options]`, '', group.summary, '', 'commands:'];
  for (const c of group.commands) lines.push(`  ${c.name.padEnd(width)} ${c.summary}`);
  lines.push('', `run '${prefix} ${group.name} COMMAND --help' for a command's options`);
  return lines.join('\n') + '\n';
}

/** Parses argv for a command; usage errors become KeelError('usage'). */
export function parseCommandArgs(command: Command, argv: string[]): { values: OptionValues; positionals: string[] } {
  const options = optionsOf(command);
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    // `--n -1`: parseArgs calls the value ambiguous; a number option says what it expects instead.
    const ambiguous = /^Option '--([^']+)' argument is ambiguous/.exec((error as Error).message)?.[1];
    const range = ambiguous === undefined ? undefined : options[ambiguous]?.wholeNumber;
    if (ambiguous !== undefined && range) wholeNumberOf(ambiguous, argv[argv.indexOf(`--${ambiguous}`) + 1] ?? '', range);
    // parseArgs explains over several lines; keel's diagnostics are one line each.
    const oneLine = (error as Error).message.split('\n').map((l) => l.trim().replace(/\.$/, '')).filter(Boolean).join('; ');
    throw new KeelError('usage', oneLine.replace(/^./, (c) => c.toLowerCase()), { cause: error });
  }
  const { values, positionals } = parsed;
  for (const [name, spec] of Object.entries(options)) {
    const text = values[name];
    if (spec.wholeNumber && typeof text === 'string') wholeNumberOf(name, text, spec.wholeNumber);
    if (spec.wholeNumber && Array.isArray(text)) for (const t of text) if (typeof t === 'string') wholeNumberOf(name, t, spec.wholeNumber);
  }
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

/**
 * The value of a whole-number option: decimal digits only (no sign, exponent, hex or unit,
 * which Number() would take), within the option's range; a usage error naming it otherwise.
 */
export function wholeNumberOf(name: string, text: string, range: WholeNumberRange): number {
  const n = /^[0-9]{1,15}$/.test(text) ? Number(text) : NaN;
  if (!(n >= range.min && n <= range.max))
    throw new KeelError('usage', `--${name}: expected a whole number${range.unit ? ` of ${range.unit}` : ''} from ${range.min} to ${range.max}, found ${JSON.stringify(text)}`);
  return n;
}

/** Reads a whole-number option declared with `wholeNumber` (checked by parseCommandArgs), or undefined. */
export function wholeNumberOption(values: OptionValues, name: string, range: WholeNumberRange): number | undefined {
  const text = stringOption(values, name);
  return text === undefined ? undefined : wholeNumberOf(name, text, range);
}

/** Prints JSON data on stdout, one document, newline-terminated. */
export function printJson(ctx: CommandContext, data: unknown): void {
  ctx.stdout.write(JSON.stringify(data, null, 2) + '\n');
}
