/**
 * UPDATE merge rules (spec §5.1/§5.2): attributes present in the update overwrite, absent ones
 * (undefined fields) are kept. Protocol info (tcp/sctp/dccp) and NAT merge field-wise, because
 * a kernel update often carries only part of it (e.g. a new TCP state without window scales).
 * Merges mutate the cached object in place: the transmit pass encodes from it at send time, so
 * repeated updates coalesce into one message.
 */
import type { Expectation, Flow } from '../flow/flow';

function mergeFields<T extends object>(old: T | undefined, upd: T | undefined): T | undefined {
  if (upd === undefined) return old;
  if (old === undefined) return { ...upd };
  const o = old as Record<string, unknown>;
  const u = upd as Record<string, unknown>;
  for (const k in u) {
    const v = u[k];
    if (v !== undefined) o[k] = v;
  }
  return old;
}

/** Merges upd into old (in place) and returns old. The key (orig tuple + zone) is unchanged. */
export function mergeFlow(old: Flow, upd: Flow): Flow {
  if (upd.reply !== undefined) old.reply = upd.reply;
  if (upd.status !== undefined) old.status = upd.status;
  if (upd.timeout !== undefined) old.timeout = upd.timeout;
  if (upd.mark !== undefined) old.mark = upd.mark;
  if (upd.labels !== undefined) old.labels = upd.labels;
  if (upd.master !== undefined) old.master = upd.master;
  if (upd.seqAdjOrig !== undefined) old.seqAdjOrig = upd.seqAdjOrig;
  if (upd.seqAdjReply !== undefined) old.seqAdjReply = upd.seqAdjReply;
  if (upd.helper !== undefined) old.helper = upd.helper;
  if (upd.synproxy !== undefined) old.synproxy = upd.synproxy;
  if (upd.id !== undefined) old.id = upd.id;
  if (upd.secmark !== undefined) old.secmark = upd.secmark;
  if (upd.tcp !== undefined) old.tcp = mergeFields(old.tcp, upd.tcp);
  if (upd.sctp !== undefined) old.sctp = mergeFields(old.sctp, upd.sctp);
  if (upd.dccp !== undefined) old.dccp = mergeFields(old.dccp, upd.dccp);
  if (upd.nat !== undefined) old.nat = mergeFields(old.nat, upd.nat);
  return old;
}

/** Expectations are replaced whole on UPDATE (spec §5.2). */
export function replaceExpectation(_old: Expectation, upd: Expectation): Expectation {
  return upd;
}

/**
 * Packet/byte counters and the use count are stripped before caching (spec §5.1). Flow has no
 * counter fields; `use` is the only kernel bookkeeping that changes on every dump.
 */
export function stripForCache(f: Flow): Flow {
  if (f.use !== undefined) f.use = undefined;
  return f;
}
