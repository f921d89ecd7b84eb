import type * as zlib from 'node:zlib';

/**
 * zlib's gunzip, with node:zlib loaded on first use: it brings node's stream modules with it,
 * about a millisecond of every `keel cloud-config` start, and few configs hold gzipped data.
 */
export function gunzipSync(bytes: Uint8Array, options: zlib.ZlibOptions): Buffer {
  return (process.getBuiltinModule('node:zlib') as typeof zlib).gunzipSync(bytes, options);
}
