/**
 * An EC2-style metadata HTTP service: `<base>/meta-data/<key>` for instance-id,
 * local-hostname, public-ipv4, local-ipv4 and public-keys, `<base>/user-data` for the
 * user-data (404 means none). The base URL is configurable so tests serve it on loopback.
 * A service that does not answer at all means this datasource is absent (undefined).
 */
import { KeelError } from '../../errors.js';
import { checkedInstanceId, type DatasourceResult, type Metadata } from '../metadata.js';
import { fetchWithRetry, type FetchOptions } from './http-fetch.js';
import { defaultMaxBytes, defaultMetadataUrl, type DatasourceOptions } from './options.js';

/** Key indexes from a `public-keys/` listing (`0=name` lines). */
export function publicKeyIndexes(listing: string): string[] {
  return listing
    .split('\n')
    .map((line) => line.trim().split('=')[0] ?? '')
    .filter((index) => /^\d+$/.test(index));
}

export async function readEc2(options: DatasourceOptions = {}): Promise<DatasourceResult | undefined> {
  const base = (options.metadataUrl ?? defaultMetadataUrl).replace(/\/+$/, '');
  const fetchOptions: FetchOptions = {
    timeoutMs: options.requestTimeoutMs ?? 5000,
    retries: options.retries ?? 2,
    maxBytes: options.maxBytes ?? defaultMaxBytes,
  };
  const source = `ec2:${base}`;
  const text = async (key: string): Promise<string | undefined> => {
    const answer = await fetchWithRetry(`${base}/meta-data/${key}`, fetchOptions);
    return answer.status === 404 ? undefined : new TextDecoder().decode(answer.body).trim();
  };
  let instanceId: string | undefined;
  try {
    instanceId = await text('instance-id');
  } catch (error) {
    // Nothing listening: not on a platform with this service.
    if (error instanceof KeelError && error.kind === 'unavailable') return undefined;
    throw error;
  }
  const metadata: Metadata = { sshPublicKeys: [] };
  if (instanceId) metadata.instanceId = checkedInstanceId(instanceId, source);
  const hostname = await text('local-hostname');
  const publicIpv4 = await text('public-ipv4');
  const privateIpv4 = await text('local-ipv4');
  if (hostname) metadata.hostname = hostname;
  if (publicIpv4) metadata.publicIpv4 = publicIpv4;
  if (privateIpv4) metadata.privateIpv4 = privateIpv4;
  const listing = await text('public-keys/');
  for (const index of publicKeyIndexes(listing ?? '')) {
    const key = await text(`public-keys/${index}/openssh-key`);
    if (key) metadata.sshPublicKeys.push(key);
  }
  const userData = await fetchWithRetry(`${base}/user-data`, fetchOptions);
  return { source, userData: userData.status === 404 ? new Uint8Array() : userData.body, metadata };
}
