/**
 * The kernel command line as a datasource: `cloud-config-url=URL` (coreos-cloudinit's name)
 * or `keel.config-url=URL` points at the user-data, over http(s) or `file://`. The last
 * occurrence wins, as the kernel's own parameters do.
 */
import fs from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { KeelError } from '../../errors.js';
import type { DatasourceResult } from '../metadata.js';
import { fetchWithRetry } from './http-fetch.js';
import { readOptional } from './labelled-filesystem.js';
import { defaultMaxBytes, type DatasourceOptions } from './options.js';

const urlKeys = ['cloud-config-url', 'keel.config-url'];

/** Splits a command line into words; double quotes group words with spaces, as the kernel does. */
export function splitCmdline(text: string): string[] {
  const words: string[] = [];
  for (const match of text.matchAll(/(?:[^\s"]+|"[^"]*")+/g)) words.push(match[0].replace(/"/g, ''));
  return words;
}

/** The config URL the command line names, if any. */
export function configUrlFromCmdline(text: string): string | undefined {
  let url: string | undefined;
  for (const word of splitCmdline(text)) {
    const eq = word.indexOf('=');
    if (eq > 0 && urlKeys.includes(word.slice(0, eq)) && word.length > eq + 1) url = word.slice(eq + 1);
  }
  return url;
}

/** Reads the command line and fetches what it points at; undefined when it points nowhere. */
export async function readCmdline(options: DatasourceOptions = {}): Promise<DatasourceResult | undefined> {
  const cmdlinePath = options.cmdlinePath ?? '/proc/cmdline';
  const text = await fs.readFile(cmdlinePath, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const url = configUrlFromCmdline(text);
  if (!url) return undefined;
  const maxBytes = options.maxBytes ?? defaultMaxBytes;
  const source = `cmdline:${url}`;
  let userData: Uint8Array | undefined;
  if (url.startsWith('file://')) {
    userData = await readOptional(fileURLToPath(url), maxBytes);
    if (!userData) throw new KeelError('not-found', `${source}: no such file; the kernel command line names it, so refusing to go on without it`);
  } else if (/^https?:\/\//.test(url)) {
    const answer = await fetchWithRetry(url, { timeoutMs: options.requestTimeoutMs ?? 5000, retries: options.retries ?? 2, maxBytes });
    if (answer.status === 404) throw new KeelError('not-found', `${source}: HTTP 404; the kernel command line names it, so refusing to go on without it`);
    userData = answer.body;
  } else {
    throw new KeelError('invalid-input', `${source}: expected an http://, https:// or file:// URL; ignoring this datasource`);
  }
  return { source, userData, metadata: { sshPublicKeys: [] } };
}
