/**
 * `keel cloud-config validate FILE…` and `keel cloud-config schema`. validate reads each file
 * as user-data (gzip allowed), validates `#cloud-config` documents (and the cloud-config parts of
 * MIME multipart user-data, merged as cloud-init merges them) and prints every problem as
 * `FILE:LINE:COL: error|warning: PATH: message`, or one JSON array for all files with --json.
 * Exit 1 only when some file has an error or cannot be read: warnings alone exit 0 (CoreOS's
 * validator exiting on warnings was a long-standing complaint).
 */
import { readFileSync } from 'node:fs';
import { formatProblem, hasErrors, type Problem } from '../problem.js';
import { readUserData, UserDataError } from '../cloudconfig/user-data.js';
import { validateMultipart } from '../cloudconfig/multipart-config.js';
import { validateCloudConfig } from '../cloudconfig/validate.js';
import { cloudConfigSchema } from '../cloudconfig/cloud-config-schema.js';
import { toJsonSchema } from '../schema/index.js';
import { printJson, type Command, type CommandContext } from './command.js';

/** One problem of one file, as --json prints it. */
export interface FileProblem extends Problem {
  file: string;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Problems of one user-data file's bytes; a script or empty user-data has none. */
export function userDataProblems(bytes: Uint8Array): { kind: 'cloud-config' | 'script' | 'empty' | 'multipart' | 'invalid'; problems: Problem[] } {
  let data;
  try {
    data = readUserData(bytes);
  } catch (error) {
    if (!(error instanceof UserDataError)) throw error;
    return { kind: 'invalid', problems: [error.toProblem()] };
  }
  if (data.kind === 'multipart') return { kind: 'multipart', problems: validateMultipart(data).problems };
  if (data.kind !== 'cloud-config') return { kind: data.kind, problems: [] };
  return { kind: 'cloud-config', problems: validateCloudConfig(data.text).problems };
}

export const validateCommand: Command = {
  name: 'validate',
  summary: 'check cloud-config files and print every problem with FILE:LINE:COL',
  usage: 'FILE…',
  minPositionals: 1,
  json: true,
  options: {
    verbose: { type: 'boolean', short: 'v', description: 'say on stderr when a file is a script or empty (nothing to check)' },
    strict: { type: 'boolean', description: 'exit 1 on warnings too (for CI that wants clean configs)' },
  },
  details: [
    "Each FILE is user-data as a datasource would give it: '#cloud-config' YAML (gzip allowed), a '#!' script,",
    'MIME multipart (text/cloud-config parts, merged as cloud-init does by default: a later part\'s top-level key',
    "replaces an earlier one's; text/x-shellscript parts run before runcmd) or empty ('-' reads stdin).",
    'Problems print as FILE:LINE:COL: error|warning: PATH: message (0:0: about the whole file); --json prints',
    'one array [{file, severity, line, column, path, message}] for all files.',
    'Exit 0 when there is no error (warnings allowed; --strict: no warning either), 1 when any file has an error or',
    'cannot be read, 2 on usage errors.',
  ].join('\n'),
  async run(ctx: CommandContext): Promise<number> {
    const all: FileProblem[] = [];
    let failed = false;
    for (const file of ctx.positionals) {
      const name = file === '-' ? '<stdin>' : file;
      let bytes: Buffer;
      try {
        bytes = file === '-' ? await readStdin() : readFileSync(file);
      } catch (error) {
        ctx.stderr.write(`keel: cannot read ${name}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; expected a readable file; not validated\n`);
        failed = true;
        continue;
      }
      const { kind, problems } = userDataProblems(bytes);
      if (ctx.values.verbose === true && (kind === 'script' || kind === 'empty')) ctx.stderr.write(`${name}: ${kind === 'script' ? 'a #! script' : 'empty user-data'}; nothing to validate\n`);
      if (hasErrors(problems) || (ctx.values.strict === true && problems.length > 0)) failed = true;
      for (const p of problems) all.push({ file: name, ...p });
    }
    if (ctx.json)
      printJson(
        ctx,
        all.map((p) => ({ file: p.file, severity: p.severity, line: p.line, column: p.column, path: p.path, message: p.message })),
      );
    else for (const p of all) ctx.stdout.write(formatProblem(p.file, p) + '\n');
    return failed ? 1 : 0;
  },
};

/** The JSON Schema of cloud-config, from the same description the validator walks. */
export function cloudConfigJsonSchema(): Record<string, unknown> {
  return toJsonSchema(cloudConfigSchema, { id: 'https://keel.invalid/schema/cloud-config.json', title: 'keel cloud-config' });
}

export const schemaCommand: Command = {
  name: 'schema',
  summary: 'print the JSON Schema (draft 2020-12) of cloud-config for editors',
  maxPositionals: 0,
  details: 'Cross-key rules (both-or-neither windows, content decoding, /usr) are checked by validate only.',
  async run(ctx: CommandContext): Promise<number> {
    printJson(ctx, cloudConfigJsonSchema());
    return 0;
  },
};
