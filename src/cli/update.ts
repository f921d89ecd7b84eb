import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { KeelError } from '../errors.js';
import { type Command, type CommandContext, type CommandGroup, printJson, stringOption, wholeNumberOption } from './command.js';
import { readBundle } from '../update/release-bundle.js';
import { expiresDaysRange, publishRelease, rotateRepositoryKey } from '../update/repository-writer.js';
import { makePayloads, zstdLevelRange } from '../update/payload-maker.js';
import { channelNameRule, isChannelName, type Release } from '../update/release.js';
import { errnoOf, fsFailure, onPath } from '../host/fs-failure.js';
import { generateKeyPairPem, signingKeyOfPem } from '../update/signing-key.js';
import { installRelease } from '../update/release-installer.js';
import { runningVersionOf } from '../update/host-facts.js';
import { updatePathsOf } from '../update/update-paths.js';
import { progressBar } from '../update/progress-bar.js';
import { parseRolloutSpec } from '../update/rollout-spec.js';
import { agentCommands } from './update-agent.js';

/** Reads a file an option names, or fails with a usage error naming the option. */
async function readOption(ctx: CommandContext, name: string): Promise<string> {
  const path = required(ctx, name);
  return onPath(path, `read the --${name} file`, () => readFile(path, 'utf8'));
}

function required(ctx: CommandContext, name: string): string {
  const v = stringOption(ctx.values, name);
  if (!v) throw new KeelError('usage', `--${name} is required`);
  return v;
}

/** --channel: a name that becomes a repository directory, so checked before anything is read. */
function channelOf(ctx: CommandContext): string {
  const channel = stringOption(ctx.values, 'channel') ?? 'stable';
  if (!isChannelName(channel)) throw new KeelError('usage', `--channel: expected ${channelNameRule}, found ${JSON.stringify(channel)}`);
  return channel;
}

const publish: Command = {
  name: 'publish',
  summary: 'add a release bundle (make image) to a static, signed update repository',
  json: true,
  options: {
    key: { type: 'string', valueName: 'KEY', description: 'ed25519 private key (PEM) that signs the metadata' },
    bundle: { type: 'string', valueName: 'DIR', description: 'release bundle: manifest.json, slot image, kernel, initramfs' },
    repo: { type: 'string', valueName: 'OUT', description: 'repository directory to create or extend' },
    channel: { type: 'string', valueName: 'C', description: 'channel the release goes to (default stable)' },
    'expires-days': { type: 'string', valueName: 'N', wholeNumber: expiresDaysRange, description: `lifetime of the targets/snapshot metadata in days, ${expiresDaysRange.min}–${expiresDaysRange.max} (default 30; timestamp at most 7)` },
    rollout: { type: 'string', valueName: 'SPEC', description: 'rollout schedule: ISO=PERCENT,… e.g. 2025-01-01T00:00Z=10,2025-01-02T00:00Z=100' },
    groups: { type: 'string', valueName: 'G,…', description: 'only nodes in these groups take the release' },
    'delta-from': { type: 'string', valueName: 'DIR', description: 'an older release bundle: also publish a zstd --patch-from delta from its slot' },
    'zstd-level': { type: 'string', valueName: 'N', wholeNumber: zstdLevelRange, description: 'zstd level of the compressed and delta payloads, 1–19 (default 19)' },
    'rotate-to': { type: 'string', valueName: 'NEWKEY', description: 'instead of publishing: move every role to NEWKEY (a root signed by both)' },
  },
  details: 'The repository is plain files (metadata/ and targets/): serve it with any HTTP server or use the directory.',
  async run(ctx) {
    // Every argument is checked before any file is read or written.
    const days = wholeNumberOption(ctx.values, 'expires-days', expiresDaysRange);
    const level = wholeNumberOption(ctx.values, 'zstd-level', zstdLevelRange);
    const channel = channelOf(ctx);
    const rollout = stringOption(ctx.values, 'rollout');
    const steps = rollout === undefined ? undefined : parseRolloutSpec(rollout);
    const groups = stringOption(ctx.values, 'groups');
    const repoDir = required(ctx, 'repo');
    const key = signingKeyOfPem(await readOption(ctx, 'key'));
    if (stringOption(ctx.values, 'rotate-to')) {
      const version = await rotateRepositoryKey(repoDir, key, signingKeyOfPem(await readOption(ctx, 'rotate-to'), 'new key'), Date.now());
      if (ctx.json) printJson(ctx, { rotated: true, rootVersion: version });
      else ctx.stdout.write(`rotated the repository to the new key: root version ${version}\n`);
      return 0;
    }
    const bundle = await readBundle(required(ctx, 'bundle'));
    const deltaFrom = stringOption(ctx.values, 'delta-from');
    const from = deltaFrom === undefined ? [] : [await readBundle(deltaFrom)];
    // zstd's payload files are made beside the system's temporary files and copied into the repository.
    const workDir = await onPath(tmpdir(), 'create a work directory', () => mkdtemp(join(tmpdir(), 'keel-payloads-')), 'nothing published');
    let result;
    try {
      const payloads = await makePayloads({ bundle, from, workDir, ...(level !== undefined && { level }) });
      result = await publishRelease({
        repoDir,
        key,
        bundle,
        channel,
        payloads,
        nowMs: Date.now(),
        ...(days !== undefined && { expiresInDays: days }),
        ...(steps !== undefined && { rollout: steps }),
        ...(groups !== undefined && { groups: groups.split(',').filter(Boolean) }),
      });
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
    // A release without verity facts is published, but nodes refuse it by default: say so now.
    const verity = bundle.verity ? `dm-verity root hash ${bundle.verity.rootHash} signed` : 'no dm-verity facts in the manifest: nodes refuse it unless ALLOW_RELEASES_WITHOUT_VERITY=true';
    if (ctx.json) printJson(ctx, { version: bundle.version, ...result, verityRootHash: bundle.verity?.rootHash ?? null });
    else ctx.stdout.write(`published ${bundle.version}: ${result.targets.join(', ')} (targets version ${result.targetsVersion}); ${verity}\n`);
    return 0;
  },
};

const install: Command = {
  name: 'install',
  summary: 'verify, stream and write the newest acceptable release into a slot (file or device)',
  json: true,
  options: {
    repo: { type: 'string', valueName: 'URL|DIR', description: 'update repository (http(s) URL or directory)' },
    target: { type: 'string', valueName: 'FILE|DEV', description: 'slot to write: a file or a block device' },
    trust: { type: 'string', valueName: 'KEYFILE', description: 'pinned ed25519 public key (PEM)' },
    version: { type: 'string', valueName: 'V', description: 'install exactly this version' },
    channel: { type: 'string', valueName: 'C', description: 'channel to follow (default stable)' },
    state: { type: 'string', valueName: 'DIR', description: 'trusted metadata and progress records (default /var/lib/keel/update)' },
    root: { type: 'string', valueName: 'DIR', description: 'host root for the running version (default /)' },
    'allow-without-verity': { type: 'boolean', description: 'accept a release whose signed metadata has no dm-verity root hash (refused by default)' },
  },
  details:
    'Exits 1 on any verification failure; a file target is replaced only by a complete image whose SHA-256 and dm-verity tree (veritysetup verify, against the signed root hash) check out, and an interrupted run resumes.',
  async run(ctx) {
    const channel = channelOf(ctx);
    const target = required(ctx, 'target');
    const trustPem = await readOption(ctx, 'trust');
    const stateDir = stringOption(ctx.values, 'state') ?? updatePathsOf('/').stateDir;
    const root = stringOption(ctx.values, 'root') ?? '/';
    const bar = progressBar(ctx.stderr as NodeJS.WritableStream & { isTTY?: boolean }, 'writing');
    const wanted = stringOption(ctx.values, 'version');
    const running = await runningVersionOf(root);
    const outcome = await installRelease({
      repo: required(ctx, 'repo'),
      trustPem,
      target,
      stateDir,
      channel,
      nowMs: Date.now(),
      onProgress: bar,
      ...(wanted !== undefined && { wanted }),
      ...(running !== undefined && { runningVersion: running }),
      allowWithoutVerity: ctx.values['allow-without-verity'] === true,
    });
    bar.done();
    if (ctx.json) {
      printJson(ctx, outcome.kind === 'installed' ? { installed: outcome.release.version, target, bytes: outcome.release.slot.length, sha256: outcome.release.slot.sha256, resumedFrom: outcome.write.resumedFrom, verity: verityJson(outcome.release) } : { installed: null, reason: outcome.reason });
    } else if (outcome.kind === 'installed') {
      const { release } = outcome;
      const verity = release.verity ? `, dm-verity root hash ${release.verity.rootHash} verified` : ', no dm-verity (allowed by --allow-without-verity)';
      ctx.stdout.write(`installed ${release.version} into ${target}: ${release.slot.length} bytes, sha256 ${release.slot.sha256} verified after writing${verity}${outcome.write.resumedFrom ? ` (resumed at byte ${outcome.write.resumedFrom})` : ''}\n`);
    } else ctx.stdout.write(`nothing to install: ${outcome.reason}\n`);
    return 0;
  },
};

/** The verity facts `install --json` reports: what was checked, or null when the release had none. */
function verityJson(release: Release): { rootHash: string; hashOffset: number; dataSize: number } | null {
  const v = release.verity;
  return v ? { rootHash: v.rootHash, hashOffset: v.hashOffset, dataSize: v.dataSize } : null;
}

const keygen: Command = {
  name: 'keygen',
  summary: 'make an ed25519 key pair for signing a repository (KEY and KEY.pub, PEM)',
  usage: 'KEY',
  minPositionals: 1,
  maxPositionals: 1,
  async run(ctx) {
    const path = ctx.positionals[0]!;
    const { privatePem, publicPem } = generateKeyPairPem();
    await onPath(dirname(path), 'create the directory', () => mkdir(dirname(path), { recursive: true }), 'no key written');
    await writeFile(path, privatePem, { mode: 0o600, flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST') throw new KeelError('conflict', `${path}: already exists; not overwriting a key`, { cause: error });
      throw fsFailure(error, path, 'write the private key', 'no key written');
    });
    await onPath(`${path}.pub`, 'write the public key', () => writeFile(`${path}.pub`, publicPem));
    ctx.stdout.write(`wrote ${path} and ${path}.pub\n`);
    return 0;
  },
};

/**
 * The last line of defence for messages: an error no part turned into a KeelError is never
 * printed as JavaScript's own text. An errno error gets its path and a next step; anything
 * else is called what it is, a bug (KEEL_DEBUG=1 prints the stack of the cause).
 */
export function withPlainErrors(command: Command): Command {
  return {
    ...command,
    async run(ctx) {
      try {
        return await command.run(ctx);
      } catch (error) {
        if (error instanceof KeelError) throw error;
        const path = (error as NodeJS.ErrnoException | undefined)?.path;
        if (errnoOf(error) && typeof path === 'string') throw fsFailure(error, path, `complete keel update ${command.name}`);
        if (process.env.KEEL_DEBUG && error instanceof Error) ctx.stderr.write(`${error.stack}\n`);
        throw new KeelError('internal', `keel update ${command.name} failed on an internal error; this is a bug in keel: please report it with the output of KEEL_DEBUG=1`, { cause: error });
      }
    },
  };
}

/** `keel update`: atomic A/B updates: status, check, apply, rollback, publish, install, agent. */
export const updateCommands: CommandGroup = {
  name: 'update',
  summary: 'atomic A/B updates: status, check, apply, rollback, publish, install, agent',
  commands: [...agentCommands, publish, install, keygen].map(withPlainErrors),
};
