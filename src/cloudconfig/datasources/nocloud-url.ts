/**
 * NoCloud seeded from a URL instead of a disk, as cloud-init's `ds=nocloud;s=URL` (also
 * `ds=nocloud-net`, `seedfrom=`) on the kernel command line or the `seedUrl` option: the
 * seed is `<URL>user-data` and `<URL>meta-data`, over http(s) or from a `file://` directory.
 */
import { fileURLToPath } from 'node:url';
import { KeelError } from '../../errors.js';
import type { DatasourceResult } from '../metadata.js';
import { splitCmdline } from './cmdline.js';
import { fetchWithRetry } from './http-fetch.js';
import { defaultMaxBytes, type DatasourceOptions } from './options.js';
import { readNocloudDir, readNocloudSeed } from './nocloud-seed.js';

/** The seed URL a `ds=nocloud;s=URL` word names, if any (the last such word wins). */
export function seedUrlFromCmdline(text: string): string | undefined {
  let url: string | undefined;
  for (const word of splitCmdline(text)) {
    if (!word.startsWith('ds=')) continue;
    const [kind, ...settings] = word.slice(3).split(';');
    if (kind !== 'nocloud' && kind !== 'nocloud-net') continue;
    for (const setting of settings) {
      const eq = setting.indexOf('=');
      const key = setting.slice(0, eq);
      if (eq > 0 && (key === 's' || key === 'seedfrom') && setting.length > eq + 1) url = setting.slice(eq + 1);
    }
  }
  return url;
}

/** Reads the seed at `url`; a seed named explicitly but missing entirely is an error. */
export async function readNocloudUrl(url: string, options: DatasourceOptions = {}): Promise<DatasourceResult> {
  const base = url.endsWith('/') ? url : `${url}/`;
  const source = `nocloud:${base}`;
  const maxBytes = options.maxBytes ?? defaultMaxBytes;
  let result: DatasourceResult | undefined;
  if (base.startsWith('file://')) {
    result = await readNocloudDir(fileURLToPath(base), source, maxBytes);
  } else if (/^https?:\/\//.test(base)) {
    const fetchOptions = { timeoutMs: options.requestTimeoutMs ?? 5000, retries: options.retries ?? 2, maxBytes };
    result = await readNocloudSeed(
      {
        async read(name) {
          const answer = await fetchWithRetry(`${base}${name}`, fetchOptions);
          return answer.status === 404 ? undefined : answer.body;
        },
      },
      source,
    );
  } else {
    throw new KeelError('invalid-input', `${source}: expected an http://, https:// or file:// seed URL; ignoring this datasource`);
  }
  if (!result) throw new KeelError('not-found', `${source}: neither user-data nor meta-data is there; the seed URL names it, so refusing to go on without it`);
  return result;
}
