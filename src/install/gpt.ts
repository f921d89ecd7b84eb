/**
 * The installer's GPT edits, through sgdisk: move the backup header to the end of the
 * target (the image was made for a smaller disk) and add the small NoCloud seed partition
 * in the gap before the first partition. Parsing sgdisk's table is pure; sgdisk runs through
 * the process edge passed in (`run`), so a unit test can hand a fake.
 */
import { KeelError } from '../errors.js';
import type { RunCommand } from '../host/process.js';

export interface GptPartition {
  number: number;
  startSector: number;
  endSector: number;
  code: string;
  name: string;
}

/** Parses the table of `sgdisk -p` (pure). */
export function parseSgdiskTable(text: string): { sectors: number; lastUsable: number; partitions: GptPartition[] } {
  const sectors = Number(/^Disk .*?: (\d+) sectors/m.exec(text)?.[1] ?? NaN);
  const lastUsable = Number(/last usable sector is (\d+)/.exec(text)?.[1] ?? NaN);
  const partitions: GptPartition[] = [];
  for (const m of text.matchAll(/^\s+(\d+)\s+(\d+)\s+(\d+)\s+\S+ \S+\s+([0-9A-F]{4})\s*(.*)$/gm))
    partitions.push({ number: Number(m[1]), startSector: Number(m[2]), endSector: Number(m[3]), code: m[4]!, name: m[5]!.trim() });
  return { sectors, lastUsable, partitions };
}

async function sgdisk(run: RunCommand, args: string[], what: string): Promise<string> {
  const r = await run('sgdisk', args);
  if (r.exitCode !== 0) throw new KeelError('io', `sgdisk ${args.join(' ')} (${what}) failed: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** The partition table of `device`. */
export async function readGpt(run: RunCommand, device: string): Promise<ReturnType<typeof parseSgdiskTable>> {
  return parseSgdiskTable(await sgdisk(run, ['-p', device], 'read the partition table'));
}

/** Moves the backup GPT header and entries to the end of the device. */
export async function fixBackupHeader(run: RunCommand, device: string): Promise<void> {
  await sgdisk(run, ['-e', device], 'move the backup header to the end of the disk');
}

/** Checks the table (both headers, CRCs, overlaps); throws on any problem. */
export async function verifyGpt(run: RunCommand, device: string): Promise<void> {
  const out = await sgdisk(run, ['-v', device], 'verify');
  if (!/No problems found/.test(out)) throw new KeelError('verification', `sgdisk -v ${device} found problems: ${out.trim()}`);
}

/** The NoCloud seed partition: sectors 40..first partition start-1, GPT name `cidata`. */
export const seedPartitionName = 'cidata';

/**
 * Adds the seed partition in the gap before the first partition (1 MiB images leave
 * ~1000 KiB there), as number 5 (or the first free number). Returns it.
 */
export async function addSeedPartition(run: RunCommand, device: string): Promise<GptPartition> {
  const table = await readGpt(run, device);
  const first = Math.min(...table.partitions.map((p) => p.startSector));
  const start = 40; // after the primary entries (sectors 2–33), 4 KiB aligned
  if (!(first > start + 64)) throw new KeelError('conflict', `${device}: the first partition starts at sector ${first}; no gap for the cloud-config seed partition`);
  const used = new Set(table.partitions.map((p) => p.number));
  let number = 5;
  while (used.has(number)) number++;
  await sgdisk(run, ['-a', '8', '-n', `${number}:${start}:${first - 1}`, '-t', `${number}:0700`, '-c', `${number}:${seedPartitionName}`, device], 'add the cloud-config seed partition');
  return { number, startSector: start, endSector: first - 1, code: '0700', name: seedPartitionName };
}
