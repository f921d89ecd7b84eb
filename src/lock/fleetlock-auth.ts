/**
 * Who may do what on the FleetLock server (issue 10). A client proves an identity with a
 * client certificate (its common name, checked against `--client-ca`) or a bearer token
 * (`--tokens FILE`, one `name token` per line). A node may take and give back only its
 * own slot (identity == client_params.id); an operator identity may also give back any
 * holder's slot, as `keel lock release --id OTHER` does. Without any of these the server
 * runs unauthenticated, for Zincati clients, which send neither. Pure apart from hashing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { KeelError } from '../errors.js';
import type { FleetLockError, FleetLockOperation } from './fleetlock-protocol.js';
import { idProblem } from './semaphore.js';

/** Tokens shorter than this are refused when the file is read: they could be guessed. */
export const minTokenLength = 16;

export interface TokenEntry {
  name: string;
  /** SHA-256 of the token: every comparison is between equal-length digests. */
  digest: Buffer;
}

export interface FleetLockAuth {
  /** Trust a client certificate's common name (the TLS layer checked its chain). */
  clientCerts: boolean;
  tokens: TokenEntry[];
  /** Identities that may release any holder. */
  operators: Set<string>;
}

/** What the TLS layer and the headers say about a request. */
export interface RequestCredentials {
  authorization?: string | undefined;
  /** The verified client certificate's common name, when there is one. */
  certificateName?: string | undefined;
}

export interface Identity {
  name: string;
  via: 'certificate' | 'token';
}

const digestOf = (token: string) => createHash('sha256').update(token, 'utf8').digest();

/**
 * Reads a tokens file: `name token` per line, `#` comments and blank lines ignored. Names
 * follow the node id rules; a name or token given twice is refused (which would win?).
 */
export function parseTokens(text: string, path: string): TokenEntry[] {
  const entries: TokenEntry[] = [];
  const names = new Set<string>();
  const tokens = new Set<string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${path}:${i + 1}`;
    const fields = line.split(/\s+/);
    if (fields.length !== 2) throw new KeelError('invalid-input', `${where}: expected 'node-id token', found ${fields.length} field${fields.length === 1 ? '' : 's'}; refusing to start`);
    const [name, token] = fields as [string, string];
    const problem = idProblem(name);
    if (problem) throw new KeelError('invalid-input', `${where}: node id ${problem}; refusing to start`);
    if (token.length < minTokenLength) throw new KeelError('invalid-input', `${where}: expected a token of at least ${minTokenLength} characters for ${name}, found ${token.length}; refusing to start`);
    if (names.has(name)) throw new KeelError('invalid-input', `${where}: ${name} has a token already; refusing to start`);
    if (tokens.has(token)) throw new KeelError('invalid-input', `${where}: this token is given to another name too; refusing to start`);
    names.add(name);
    tokens.add(token);
    entries.push({ name, digest: digestOf(token) });
  });
  return entries;
}

/** The request's identity: a verified certificate first, else a bearer token that matches. */
export function identify(auth: FleetLockAuth, credentials: RequestCredentials): Identity | undefined {
  if (auth.clientCerts && credentials.certificateName) return { name: credentials.certificateName, via: 'certificate' };
  const m = /^bearer\s+(\S+)\s*$/i.exec(credentials.authorization ?? '');
  if (!m || auth.tokens.length === 0) return undefined;
  const presented = digestOf(m[1]!);
  // Compare with every entry, no early exit: the time taken says nothing about which matched.
  let found: TokenEntry | undefined;
  for (const entry of auth.tokens) if (timingSafeEqual(presented, entry.digest) && !found) found = entry;
  return found ? { name: found.name, via: 'token' } : undefined;
}

/** Undefined when `identity` may do `operation` for node `id`, else the error answer (401 or 403). */
export function authorize(auth: FleetLockAuth | undefined, identity: Identity | undefined, operation: FleetLockOperation, id: string): FleetLockError | undefined {
  if (!auth) return undefined;
  if (!identity) {
    const ways = [auth.clientCerts ? 'a client certificate signed by the server\'s client CA' : '', auth.tokens.length ? "an 'authorization: Bearer TOKEN' header" : ''].filter(Boolean).join(' or ');
    return { status: 401, kind: 'unauthenticated', value: `expected ${ways}, found none that the server accepts` };
  }
  if (operation === 'status' || identity.name === id) return undefined;
  if (operation === 'steady-state' && auth.operators.has(identity.name)) return undefined;
  const may = auth.operators.has(identity.name) ? 'an operator may release any holder but take only its own slot' : 'a node may take and release only its own slot';
  return { status: 403, kind: 'forbidden', value: `${identity.via} ${JSON.stringify(identity.name)} asked to ${operation === 'pre-reboot' ? 'take' : 'release'} the slot of ${JSON.stringify(id)}: ${may}` };
}
