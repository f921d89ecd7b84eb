/**
 * The datasources, by name, and detection: several sources polled at once, each with
 * backoff (100 ms doubling to 30 s), until one yields user-data or the deadline (5 min by
 * default, as coreos-cloudinit) passes. Each source lives in its own file.
 */
import { KeelError } from '../../errors.js';
import type { DatasourceResult } from '../metadata.js';
import { nextPollDelayMs, type Backoff } from '../../backoff.js';
import { readCmdline } from './cmdline.js';
import { readConfigDrive } from './config-drive.js';
import { readEc2 } from './ec2.js';
import { readFileSource } from './file.js';
import { readNocloud } from './nocloud.js';
import { datasourceNames, type DatasourceName, type DatasourceOptions } from './options.js';

export { datasourceNames, isDatasourceName, type DatasourceName, type DatasourceOptions } from './options.js';

const readers: Record<DatasourceName, (options: DatasourceOptions) => Promise<DatasourceResult | undefined>> = {
  nocloud: readNocloud,
  'config-drive': readConfigDrive,
  cmdline: readCmdline,
  ec2: readEc2,
  file: readFileSource,
};

/**
 * Reads one datasource once. Undefined means the source is not there (no labelled disk, no
 * URL on the command line, no metadata service); a source that is there but broken throws.
 */
export async function readDatasource(name: string, options: DatasourceOptions = {}): Promise<DatasourceResult | undefined> {
  const reader = (readers as Record<string, (typeof readers)[DatasourceName] | undefined>)[name];
  if (!reader) {
    throw new KeelError('usage', `unknown datasource '${name}'; expected one of ${datasourceNames.join(', ')}`);
  }
  return reader(options);
}

export interface DetectOptions extends DatasourceOptions {
  /** Sources to poll; default config-drive, nocloud and cmdline, plus ec2 with a metadataUrl and file with a path. */
  names?: DatasourceName[];
  /** Overall deadline; default 5 minutes. */
  deadlineMs?: number;
  backoff?: Backoff;
  /** Clock and sleep, replaceable in tests. */
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** What detection found: the first source with data, and what went wrong elsewhere. */
export interface Detection {
  result: DatasourceResult | undefined;
  /** Errors from sources that were present but unreadable, by source name (last error each). */
  errors: Partial<Record<DatasourceName, KeelError>>;
}

/** coreos-cloudinit's polling schedule: 100 ms, doubling after every miss, never more than 30 s. */
export const defaultBackoff: Backoff = { initialDelayMs: 100, maxDelayMs: 30_000 };

/** The sources polled when none are named. */
export function defaultDetectNames(options: DatasourceOptions): DatasourceName[] {
  const names: DatasourceName[] = ['config-drive', 'nocloud', 'cmdline'];
  if (options.metadataUrl) names.push('ec2');
  if (options.path) names.push('file');
  return names;
}

/**
 * Polls the sources concurrently until one has data; resolves with it (and any errors
 * met), or with `result: undefined` when the deadline passes. HTTP sources ask once per
 * poll (retries 0 unless given): the polling is the retry.
 */
export async function detectDatasources(options: DetectOptions = {}): Promise<Detection> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? abortableSleep;
  const deadline = now() + (options.deadlineMs ?? 300_000);
  const names = options.names ?? defaultDetectNames(options);
  const readOptions: DatasourceOptions = { ...options, retries: options.retries ?? 0 };
  const errors: Detection['errors'] = {};
  // Aborted when a source wins, so the other pollers stop sleeping and the process can exit.
  const done = new AbortController();
  let winner: DatasourceResult | undefined;

  const poll = async (name: DatasourceName): Promise<void> => {
    for (let attempt = 0; !done.signal.aborted; attempt++) {
      try {
        const result = await readDatasource(name, readOptions);
        if (result && !done.signal.aborted) {
          winner = result;
          done.abort();
        }
        if (result) return;
      } catch (error) {
        errors[name] = error instanceof KeelError ? error : new KeelError('io', `${name}: ${String(error)}`, { cause: error });
      }
      const delay = nextPollDelayMs(attempt, now(), deadline, options.backoff ?? defaultBackoff);
      if (delay === undefined || done.signal.aborted) return;
      await sleep(delay, done.signal);
    }
  };
  const won = new Promise<void>((resolve) => done.signal.addEventListener('abort', () => resolve(), { once: true }));
  await Promise.race([Promise.all(names.map(poll)), won]);
  done.abort();
  return { result: winner, errors };
}

/** Sleeps `ms`, resolving early when `signal` aborts; the listener goes with the timer (one per poll would pile up on the shared signal). */
function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
