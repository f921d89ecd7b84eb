/**
 * The pre-reboot check "rebooting keeps etcd's quorum", on by default on a host that runs an
 * etcd member (PRE_REBOOT_ETCD_QUORUM=auto; `off` turns it off). The reboot lock lets one
 * host at a time reboot, but it cannot see a member that is down for another reason: a host
 * that crashed, or one killed while it held the slot and released by an operator. Rebooting
 * another host then takes a second member of three down, and the cluster (the lock with it)
 * stops until one comes back. So before asking for a slot, the agent counts the members that
 * stay healthy without its own and refuses below the quorum. The judgement is pure.
 */

/** A member as the check sees it. */
export interface EtcdMemberView {
  name: string;
  healthy: boolean;
  problem?: string;
  /** This host's own member. */
  local: boolean;
}

/** The edge: the members of the local member's cluster, with their health. */
export interface EtcdQuorumProbe {
  members(): Promise<EtcdMemberView[]>;
}

/** Why rebooting this host would break the cluster's quorum, or undefined when it would not. */
export function judgeEtcdQuorum(members: EtcdMemberView[]): string | undefined {
  // One member: rebooting takes etcd down whatever is checked; nothing to protect.
  if (members.length <= 1) return undefined;
  const quorum = Math.floor(members.length / 2) + 1;
  // A host whose own member is not in the list (advertised under another URL) counts as a healthy member that goes down.
  const ownListed = members.some((m) => m.local);
  const left = members.filter((m) => m.healthy && !m.local).length - (ownListed ? 0 : 1);
  if (left >= quorum) return undefined;
  const down = members.filter((m) => !m.healthy && !m.local).map((m) => `${m.name || '(unnamed)'}: ${m.problem ?? 'not healthy'}`);
  return `pre-reboot etcd quorum: rebooting this host would leave ${Math.max(0, left)} of ${members.length} members, below the quorum of ${quorum}${down.length ? ` (${down.join('; ')})` : ''}; waiting for them to come back`;
}

/** Reads the members through the probe and judges them; no answer is the reason. */
export async function etcdQuorumProblem(probe: EtcdQuorumProbe): Promise<string | undefined> {
  let members: EtcdMemberView[];
  try {
    members = await probe.members();
  } catch (error) {
    return `pre-reboot etcd quorum: cannot read the cluster's members (${(error as Error).message})`;
  }
  return judgeEtcdQuorum(members);
}
