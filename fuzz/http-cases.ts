/**
 * Request generators for the FleetLock HTTP fuzzer, from a seeded generator so a run can
 * be repeated: methods, request targets (including the absolute-form ones that once
 * ended the server), headers, bodies, sizes, pipelining and slow or vanishing clients.
 * Each case says whether it is a client mistake (any 5xx to it is a server bug) and
 * whether the client waits for an answer.
 */

/** mulberry32: small, fast, good enough to pick cases; the same seed gives the same run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface HttpCase {
  /** What was sent, in words, for the report. */
  label: string;
  /** The method sent (a HEAD answer has no body to wait for). */
  method: string;
  /** Bytes to write, one chunk at a time, waiting `delayMs` between chunks (a slow client). */
  chunks: Buffer[];
  delayMs: number;
  /** A request no conforming FleetLock client would send: any 5xx answer to it is a bug. */
  mistake: boolean;
  /** The client waits for an answer; otherwise it closes the connection after sending. */
  expectAnswer: boolean;
}

/** Targets `new URL` throws on, and other forms the server must refuse without falling over. */
export const hostileTargets = [
  'http://%zz/v1/status', 'http://[/v1/status', 'http://a:b:c/v1/status', 'http://x:99999/v1/status', 'http://256.1.1.1/v1/status',
  'http://[::1/v1/status', 'http://%/v1/pre-reboot', 'http://@/v1/status', 'http://:/v1/status', 'http://[fe80::1%25zz]/v1/status',
  'http://0x100000000/v1/status', 'http://a%00b/v1/status', 'ftp://x/v1/status', 'example.com:443', '*', 'v1/status', '%', '/%zz',
  '//v1/status', '/fleetlock/../fleetlock/v1/status', '/fleetlock/v1/status#x', '/fleetlock/v1/status?group=%zz', '/fleetlock/v1/status?group=..',
  `/fleetlock/v1/status?group=${'g'.repeat(300)}`, `/${'a'.repeat(8000)}`, '/fleetlock/v1/pre-reboot?x=\u00e9',
];

const ids = ['node-1', 'node-2', 'node-3', 'node-4', '0123456789abcdef0123456789abcdef'];
const groups = ['default', 'workers', 'masters', 'g1', 'g2'];
const badIds: unknown[] = ['', 'a b', 'a\nb', '\ud800', 'x'.repeat(254), 7, null, true, ['a'], { id: 'a' }, 'a\u007f', '\u0000'];
const badGroups: unknown[] = ['', '..', '.', 'a/b', 'a b', 'g'.repeat(254), 'g'.repeat(60_000), 5, null, '\u00e9', '%2e%2e'];
const methods = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'post', 'FOO', 'CONNECT'];

/** Draws from one seeded generator. */
interface Draw {
  random: () => number;
  pick: <T>(list: readonly T[]) => T;
  chance: (p: number) => boolean;
}

/** A POST body: well-formed (now and then for a new group, to reach --max-groups) or one of the mistakes. */
function bodyCase({ random, pick, chance }: Draw, newGroup: () => string): { text: string; mistake: boolean; what: string } {
  const r = random();
  if (r < 0.55) {
    const group = chance(0.1) ? newGroup() : pick(groups);
    return { text: JSON.stringify({ client_params: { id: pick(ids), group } }), mistake: false, what: 'valid body' };
  }
  if (r < 0.7) return { text: JSON.stringify({ client_params: { id: pick(badIds), group: pick(groups) } }), mistake: true, what: 'bad id' };
  if (r < 0.8) return { text: JSON.stringify({ client_params: { id: pick(ids), group: pick(badGroups) } }), mistake: true, what: 'bad group' };
  return { text: pick(oddBodies), mistake: true, what: 'odd body' };
}

const oddBodies = [
  '', '{', 'null', '[]', '"x"', '{"client_params":null}', '{"client_params":[]}', '{"node_uuid":"a"}', '\ufeff{"client_params":{"id":"a","group":"default"}}',
  `${'['.repeat(20_000)}${']'.repeat(20_000)}`, `{"client_params":{"id":"node-1","group":"default","x":${'1'.repeat(5000)}}}`, 'x'.repeat(70_000),
  '{"client_params":{"id":"\\ud800","group":"default"}}', '{"__proto__":{"client_params":{"id":"a","group":"default"}}}',
];

export function caseGenerator(seed: number, base = '/fleetlock'): () => HttpCase {
  const random = seededRandom(seed);
  const draw: Draw = { random, pick: (list) => list[Math.floor(random() * list.length)]!, chance: (p) => random() < p };
  const { pick, chance } = draw;
  let fresh = 0;
  const body = () => bodyCase(draw, () => `fuzz-${seed}-${fresh++}`);

  return () => {
    const r = random();
    const op = pick(['pre-reboot', 'steady-state', 'status'] as const);
    let method = op === 'status' ? 'GET' : 'POST';
    let target = `${base}/v1/${op}${op === 'status' ? `?group=${pick(groups)}` : ''}`;
    let mistake = false;
    const what: string[] = [];
    if (r < 0.25) {
      target = pick(hostileTargets);
      mistake = true;
      what.push('hostile target');
    } else if (r < 0.3) {
      target = `http://127.0.0.1${target}`;
      what.push('absolute-form');
    }
    if (chance(0.1)) {
      method = pick(methods);
      mistake ||= method !== (op === 'status' ? 'GET' : 'POST');
      what.push(`method ${method}`);
    }
    const headers: string[] = ['host: 127.0.0.1'];
    if (chance(0.9)) headers.push(`fleet-lock-protocol: ${chance(0.9) ? 'true' : pick(['false', '', 'TRUE', 'yes'])}`);
    else if (method === 'POST') mistake = true;
    if (chance(0.05)) headers.push(`x-big: ${'h'.repeat(pick([1000, 20_000, 70_000]))}`), (mistake = true), what.push('big header');
    if (chance(0.05)) headers.push(pick(['bad header', 'x:\u0001y', 'content-length: abc', 'content-length: 1\r\ncontent-length: 2', 'transfer-encoding: zip'])), (mistake = true), what.push('bad header');
    if (chance(0.05)) headers.push(`authorization: ${pick(['Bearer x', 'Basic Og==', 'Bearer', 'x'.repeat(300)])}`), what.push('authorization');
    const b = method === 'GET' || method === 'HEAD' ? { text: chance(0.05) ? 'unexpected' : '', mistake: false, what: '' } : body();
    mistake ||= b.mistake;
    if (b.what) what.push(b.what);
    let payload = Buffer.from(b.text, 'utf8');
    if (chance(0.03)) (payload = Buffer.concat([payload, Buffer.from([0xff, 0xfe, 0xc0])])), (mistake = true), what.push('invalid utf-8');
    let expectAnswer = true;
    const framing = random();
    if (framing < 0.08) {
      headers.push('transfer-encoding: chunked');
      payload = Buffer.concat([Buffer.from(`${payload.length.toString(16)}\r\n`), payload, Buffer.from(chance(0.8) ? '\r\n0\r\n\r\n' : '\r\nzz\r\n\r\n')]);
      what.push('chunked');
    } else if (framing < 0.12) {
      // Announces more than it sends, then goes away: no answer is owed.
      headers.push(`content-length: ${payload.length + 100}`);
      expectAnswer = false;
      mistake = true;
      what.push('short body, client leaves');
    } else if (payload.length > 0 || method === 'POST') headers.push(`content-length: ${payload.length}`);
    if (chance(0.9)) headers.push('connection: close');
    const head = Buffer.from(`${method} ${target} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`, 'latin1');
    let all = Buffer.concat([head, payload]);
    if (chance(0.03)) (all = Buffer.from(pick(['GARBAGE\r\n\r\n', '\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', 'GET /\r\n\r\n', '\u0000\u0001\u0002\r\n\r\n']), 'latin1')), (mistake = true), what.splice(0, what.length, 'garbage');
    let chunks = [all];
    let delayMs = 0;
    if (chance(0.05)) {
      // A slow client: the request in pieces, a short wait between them.
      const pieces = 2 + Math.floor(random() * 6);
      const size = Math.ceil(all.length / pieces);
      chunks = Array.from({ length: Math.ceil(all.length / size) }, (_, i) => all.subarray(i * size, (i + 1) * size));
      delayMs = 20 + Math.floor(random() * 100);
      what.push(`slow ${chunks.length} pieces`);
    } else if (chance(0.03)) {
      // Half a request, then gone.
      chunks = [all.subarray(0, Math.max(1, Math.floor(all.length / 2)))];
      expectAnswer = false;
      mistake = true;
      what.push('half sent, client leaves');
    }
    return { method, label: `${method} ${target.slice(0, 80)}${what.length ? ` [${what.join(', ')}]` : ''}`, chunks, delayMs, mistake, expectAnswer };
  };
}
