/**
 * The members of the etcd cluster this host's member belongs to, each with whether it answers
 * healthy: the list from `POST /v3/cluster/member/list` (etcd's JSON gateway) on the local
 * member, then `GET /health` on each member's first client URL, all at once, each within a
 * deadline. Plain node:http(s) with the member's TLS files (its CA, and its client pair where
 * it asks for client certificates), so the check needs no gRPC client. Which member is this
 * host's: the one whose client URLs include the local member's advertised ones.
 */
import { readEtcdTlsFiles } from './etcd-tls-files.js';
import { httpCall, type ClientTls } from './http-call.js';
import type { LocalMember } from './local-member.js';

/** One member of the cluster, as listed, and what its /health said. */
export interface MemberHealth {
  /** Empty for a member added but never started. */
  name: string;
  clientUrls: string[];
  healthy: boolean;
  /** Why it is not healthy: no client URL, no answer, or etcd's own answer. */
  problem?: string;
  /** This host's own member. */
  local: boolean;
}

const defaultTimeoutMs = 2000;

/** GET or POST one URL within the deadline; the JSON answer, or an Error saying why not. */
async function ask(url: string, tls: ClientTls, timeoutMs: number, body?: unknown): Promise<unknown> {
  const answer = await httpCall(url, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(timeoutMs),
    tls,
  });
  if (answer.status !== 200) throw new Error(`HTTP ${answer.status} ${answer.text.trim().slice(0, 120)}`);
  return JSON.parse(answer.text) as unknown;
}

const reason = (error: unknown) => ((error as Error).name === 'TimeoutError' || (error as Error).name === 'AbortError' ? 'no answer in time' : (error as Error).message);

/** The cluster's members and their health, asked of the local member; rejects when no endpoint lists them. */
export async function readMemberHealth(member: LocalMember, timeoutMs = defaultTimeoutMs): Promise<MemberHealth[]> {
  const tls = readEtcdTlsFiles(member);
  let listed: unknown;
  let last: unknown;
  for (const endpoint of member.endpoints) {
    listed = await ask(new URL('/v3/cluster/member/list', endpoint).href, tls, timeoutMs, {}).catch((error: unknown) => ((last = error), undefined));
    if (listed !== undefined) break;
  }
  if (listed === undefined) throw new Error(`the local member ${member.endpoints.join(', ')} did not list the cluster: ${reason(last)}`);
  const members = (listed as { members?: unknown }).members;
  if (!Array.isArray(members)) throw new Error('the local member sent no member list');
  const own = new Set(member.endpoints.map((u) => new URL(u).origin));
  return Promise.all(
    members.map(async (m: { name?: unknown; clientURLs?: unknown }): Promise<MemberHealth> => {
      const name = typeof m.name === 'string' ? m.name : '';
      const clientUrls = Array.isArray(m.clientURLs) ? m.clientURLs.filter((u): u is string => typeof u === 'string' && URL.canParse(u)) : [];
      const local = clientUrls.some((u) => own.has(new URL(u).origin));
      if (clientUrls.length === 0) return { name, clientUrls, healthy: false, problem: 'no client URL (never started)', local };
      try {
        const health = (await ask(new URL('/health', clientUrls[0]).href, tls, timeoutMs)) as { health?: unknown; reason?: unknown };
        if (health.health === 'true' || health.health === true) return { name, clientUrls, healthy: true, local };
        return { name, clientUrls, healthy: false, problem: `unhealthy${typeof health.reason === 'string' && health.reason ? `: ${health.reason}` : ''}`, local };
      } catch (error) {
        return { name, clientUrls, healthy: false, problem: reason(error), local };
      }
    }),
  );
}
