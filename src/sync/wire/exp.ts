/**
 * Expectation messages (types 3..5): encoder in the order of spec §3.5 and the matching parser
 * (same TLV rules as conntracks, spec §3.4, with the expectation id table).
 */
import { AF_INET, AF_INET6, type Addr, type Family } from '../../flow/address';
import { type Expectation, makeTuple, type Tuple } from '../../flow/flow';
import { NETHDR_SIZE, NTA_EXP, NTA_EXP_MAX } from './constants';
import { checkAttr, wirePorts } from './ct';
import { WireDecodeError } from './errors';
import { writeHeader } from './header';
import { putAttr, putPorts, putString, putU8, putU32, readCString, readI32, readU16, readU32, stringSpace, type WireOptions, writeU32 } from './options';

export { DEFAULT_WIRE_OPTIONS, type WireOptions } from './options';

function pairSpace(a: Addr): number {
  return typeof a === 'number' ? 12 : 36;
}

function putPair(buf: Buffer, off: number, id4: number, id6: number, t: Tuple): number {
  if (typeof t.src === 'number') {
    const p = putAttr(buf, off, id4, 8);
    writeU32(buf, p, t.src);
    writeU32(buf, p + 4, t.dst as number);
    return off + 12;
  }
  const p = putAttr(buf, off, id6, 32);
  buf.write(t.src, p, 16, 'latin1');
  buf.write(t.dst as string, p + 16, 16, 'latin1');
  return off + 36;
}

/** Bytes encodeExp will write (header included). */
export function expMessageLength(exp: Expectation, opts: WireOptions): number {
  // the master's protocol decides all four port attributes (spec §3.5)
  const ports = wirePorts(exp.master.proto) ? 8 : 0;
  let n = NETHDR_SIZE;
  n += pairSpace(exp.master.src) + 8 + ports;
  n += pairSpace(exp.tuple.src) + 8 + ports;
  n += pairSpace(exp.mask.src) + 8 + ports;
  if (opts.sendTimeout && exp.timeout !== undefined) n += 8;
  n += 8; // FLAGS, always
  if (exp.class !== undefined) n += 8;
  if (exp.nat) {
    if (typeof exp.nat.tuple.src === 'number') n += 12;
    n += 8 + ports + 8;
  }
  if (exp.helper !== undefined) n += stringSpace(exp.helper);
  if (exp.fn !== undefined) n += stringSpace(exp.fn);
  return n;
}

/** Encodes one expectation message (3 NEW, 4 UPD, 5 DEL) at off; returns the next offset. */
export function encodeExp(
  buf: Buffer,
  off: number,
  type: 3 | 4 | 5,
  flags: number,
  seq: number,
  exp: Expectation,
  opts: WireOptions,
): number {
  const ports = wirePorts(exp.master.proto);
  let p = off + NETHDR_SIZE;
  p = putPair(buf, p, NTA_EXP.MASTER_IPV4, NTA_EXP.MASTER_IPV6, exp.master);
  p = putU8(buf, p, NTA_EXP.MASTER_L4PROTO, exp.master.proto);
  if (ports) p = putPorts(buf, p, NTA_EXP.MASTER_PORT, exp.master.sport, exp.master.dport);
  p = putPair(buf, p, NTA_EXP.EXPECT_IPV4, NTA_EXP.EXPECT_IPV6, exp.tuple);
  p = putU8(buf, p, NTA_EXP.EXPECT_L4PROTO, exp.tuple.proto);
  if (ports) p = putPorts(buf, p, NTA_EXP.EXPECT_PORT, exp.tuple.sport, exp.tuple.dport);
  p = putPair(buf, p, NTA_EXP.MASK_IPV4, NTA_EXP.MASK_IPV6, exp.mask);
  p = putU8(buf, p, NTA_EXP.MASK_L4PROTO, exp.mask.proto);
  if (ports) p = putPorts(buf, p, NTA_EXP.MASK_PORT, exp.mask.sport, exp.mask.dport);
  if (opts.sendTimeout && exp.timeout !== undefined) p = putU32(buf, p, NTA_EXP.TIMEOUT, exp.timeout);
  p = putU32(buf, p, NTA_EXP.FLAGS, exp.flags ?? 0);
  if (exp.class !== undefined) p = putU32(buf, p, NTA_EXP.CLASS, exp.class);
  const nat = exp.nat;
  if (nat) {
    // no IPv6 NAT attribute exists for expectations (spec §3.5)
    if (typeof nat.tuple.src === 'number') {
      const q = putAttr(buf, p, NTA_EXP.NAT_IPV4, 8);
      writeU32(buf, q, nat.tuple.src);
      writeU32(buf, q + 4, nat.tuple.dst as number);
      p += 12;
    }
    p = putU8(buf, p, NTA_EXP.NAT_L4PROTO, nat.tuple.proto);
    if (ports) p = putPorts(buf, p, NTA_EXP.NAT_PORT, nat.tuple.sport, nat.tuple.dport);
    p = putU32(buf, p, NTA_EXP.NAT_DIR, nat.dir);
  }
  if (exp.helper !== undefined) p = putString(buf, p, NTA_EXP.HELPER_NAME, exp.helper);
  if (exp.fn !== undefined) p = putString(buf, p, NTA_EXP.FN, exp.fn);
  writeHeader(buf, off, type, flags, p - off, seq);
  return p;
}

const EXP_SIZE = new Int8Array([8, 32, 1, 4, 8, 32, 1, 4, 8, 32, 1, 4, 4, 4, 4, 8, 4, 1, 4, -1, -1]);
const EXP_MAX_LEN: Record<number, number> = { [NTA_EXP.HELPER_NAME]: 16, [NTA_EXP.FN]: 32 };

interface TupleAcc {
  family: Family | 0;
  src: Addr;
  dst: Addr;
  proto: number;
  sport: number;
  dport: number;
}

function acc(): TupleAcc {
  return { family: 0, src: 0, dst: 0, proto: 0, sport: 0, dport: 0 };
}

function setPair(t: TupleAcc, buf: Buffer, v: number, v6: boolean): void {
  if (v6) {
    t.family = AF_INET6;
    t.src = buf.toString('latin1', v, v + 16);
    t.dst = buf.toString('latin1', v + 16, v + 32);
  } else {
    t.family = AF_INET;
    t.src = readI32(buf, v); // addresses are signed (flow/address.ts)
    t.dst = readI32(buf, v + 4);
  }
}

function toTuple(t: TupleAcc, fallback: Family): Tuple {
  const family = t.family === 0 ? fallback : t.family;
  const zero: Addr = family === AF_INET ? 0 : '\0'.repeat(16);
  return makeTuple({
    family,
    src: t.family === 0 ? zero : t.src,
    dst: t.family === 0 ? zero : t.dst,
    proto: t.proto,
    sport: t.sport,
    dport: t.dport,
  });
}

/**
 * Parses an expectation body buf[off, end). Throws WireDecodeError like decodeCtBody; a message
 * without master or expected addresses is 'missingTuple'. The mask tuple defaults to the
 * master's family with zero addresses when absent.
 */
export function decodeExpBody(buf: Buffer, off: number, end: number, _opts: WireOptions): Expectation {
  // _opts: no host-order fields in expectations; kept for symmetry with decodeCtBody
  const master = acc();
  const tuple = acc();
  const mask = acc();
  const natT = acc();
  let natSeen = false;
  let natDir = 0;
  let timeout: number | undefined;
  let flags: number | undefined;
  let cls: number | undefined;
  let helper: string | undefined;
  let fn: string | undefined;
  let p = off;
  while (end - p > 4) {
    const len = checkAttr(buf, p, end, EXP_SIZE, EXP_MAX_LEN, NTA_EXP_MAX);
    const id = buf[p + 3]!;
    const v = p + 4;
    switch (id) {
      case NTA_EXP.MASTER_IPV4:
      case NTA_EXP.MASTER_IPV6:
        setPair(master, buf, v, id === NTA_EXP.MASTER_IPV6);
        break;
      case NTA_EXP.MASTER_L4PROTO:
        master.proto = buf[v]!;
        break;
      case NTA_EXP.MASTER_PORT:
        master.sport = readU16(buf, v);
        master.dport = readU16(buf, v + 2);
        break;
      case NTA_EXP.EXPECT_IPV4:
      case NTA_EXP.EXPECT_IPV6:
        setPair(tuple, buf, v, id === NTA_EXP.EXPECT_IPV6);
        break;
      case NTA_EXP.EXPECT_L4PROTO:
        tuple.proto = buf[v]!;
        break;
      case NTA_EXP.EXPECT_PORT:
        tuple.sport = readU16(buf, v);
        tuple.dport = readU16(buf, v + 2);
        break;
      case NTA_EXP.MASK_IPV4:
      case NTA_EXP.MASK_IPV6:
        setPair(mask, buf, v, id === NTA_EXP.MASK_IPV6);
        break;
      case NTA_EXP.MASK_L4PROTO:
        mask.proto = buf[v]!;
        break;
      case NTA_EXP.MASK_PORT:
        mask.sport = readU16(buf, v);
        mask.dport = readU16(buf, v + 2);
        break;
      case NTA_EXP.TIMEOUT:
        timeout = readU32(buf, v);
        break;
      case NTA_EXP.FLAGS:
        flags = readU32(buf, v);
        break;
      case NTA_EXP.CLASS:
        cls = readU32(buf, v);
        break;
      case NTA_EXP.NAT_IPV4:
        natSeen = true;
        setPair(natT, buf, v, false);
        break;
      case NTA_EXP.NAT_PORT:
        natSeen = true;
        natT.sport = readU16(buf, v);
        natT.dport = readU16(buf, v + 2);
        break;
      case NTA_EXP.NAT_L4PROTO:
        natSeen = true;
        natT.proto = buf[v]!;
        break;
      case NTA_EXP.NAT_DIR:
        natSeen = true;
        natDir = readU32(buf, v);
        break;
      case NTA_EXP.HELPER_NAME:
        helper = readCString(buf, v, p + len);
        break;
      case NTA_EXP.FN:
        fn = readCString(buf, v, p + len);
        break;
      default:
        break;
    }
    p += (len + 3) & ~3;
  }
  if (master.family === 0 || tuple.family === 0) {
    throw new WireDecodeError('missingTuple', 'expectation message without master or expected addresses');
  }
  const exp: Expectation = {
    master: toTuple(master, master.family),
    tuple: toTuple(tuple, tuple.family),
    mask: toTuple(mask, master.family),
  };
  if (timeout !== undefined) exp.timeout = timeout;
  if (flags !== undefined) exp.flags = flags;
  if (cls !== undefined) exp.class = cls;
  if (natSeen) exp.nat = { dir: natDir, tuple: toTuple(natT, master.family) };
  if (helper !== undefined) exp.helper = helper;
  if (fn !== undefined) exp.fn = fn;
  return exp;
}
