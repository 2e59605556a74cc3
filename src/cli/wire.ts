/**
 * `ctsyncd wire decode FILE.pcap [--json] [--verify] [--envelope-key [ID:]FILE ...]
 *  [--portsbe] [--no-timeout] [--window-tracking] [--port N]`
 *
 * Prints every sync message of a capture: text lines in the layout of the golden decodes in
 * ../shared/vectors/*.txt (so a capture can be diffed against them), or one JSON object per
 * message. --verify re-encodes every datagram and reports any byte difference. With
 * --envelope-key the datagrams are opened with ctsyncd's authenticated envelope first (key id
 * defaults to 1, 2, ... in argument order). Exit code: 0 all clean, 1 any rejected, dropped or
 * non-identical datagram, 2 usage or I/O error.
 */
import { Envelope } from '../sync/envelope/envelope';
import { loadKeyFile } from '../sync/envelope/keyfile';
import { NET_T } from '../sync/wire/constants';
import { ctMessageLength, encodeCt } from '../sync/wire/ct';
import { encodeExp, expMessageLength } from '../sync/wire/exp';
import { expJson, flowJson, formatExpAttrs, formatFlowAttrs, formatHeader } from '../sync/wire/format';
import { encodeCtl, formatFlags, isAckForm, type NetHeader, typeName } from '../sync/wire/header';
import { decodeDataMessage } from '../sync/wire/message';
import { DEFAULT_WIRE_OPTIONS, type WireOptions } from '../sync/wire/options';
import { WireRxStats } from '../sync/wire/stats';
import { walkDatagram } from '../sync/wire/walk';
import { readPcapFile, type UdpRecord } from '../tools/pcap';

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

const stdio: CliIo = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};

const USAGE = `usage: ctsyncd wire decode FILE.pcap [--json] [--verify] [--envelope-key [ID:]FILE ...]
                          [--portsbe] [--no-timeout] [--window-tracking] [--port N]
`;

/** `ctsyncd wire <subcommand> ...` */
export async function runWireCommand(argv: string[], io: CliIo = stdio): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(USAGE);
    return 0;
  }
  if (argv[0] === 'decode') return runWireDecode(argv.slice(1), io);
  io.err(USAGE);
  return 2;
}

interface DecodeArgs {
  file: string;
  json: boolean;
  verify: boolean;
  keyFiles: { id: number; path: string }[];
  port: number | undefined;
  opts: WireOptions;
}

function parseArgs(argv: string[]): DecodeArgs | string {
  const a: DecodeArgs = { file: '', json: false, verify: false, keyFiles: [], port: undefined, opts: { ...DEFAULT_WIRE_OPTIONS } };
  const args = argv[0] === 'decode' ? argv.slice(1) : argv;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    switch (arg) {
      case '--json':
        a.json = true;
        break;
      case '--verify':
        a.verify = true;
        break;
      case '--portsbe':
        a.opts.portsHostLE = false;
        break;
      case '--no-timeout':
        a.opts.sendTimeout = false;
        break;
      case '--window-tracking':
        a.opts.tcpWindowTracking = true;
        break;
      case '--port': {
        const v = Number(args[++i]);
        if (!Number.isInteger(v) || v < 1 || v > 65535) return '--port needs a port number';
        a.port = v;
        break;
      }
      case '--envelope-key': {
        const v = args[++i];
        if (!v) return '--envelope-key needs a key FILE';
        const m = /^(\d{1,3}):(.+)$/.exec(v);
        const id = m ? Number(m[1]) : a.keyFiles.length + 1;
        if (id > 255) return `key id ${id} not in 0..255`;
        a.keyFiles.push({ id, path: m ? m[2]! : v });
        break;
      }
      default:
        if (arg.startsWith('-')) return `unknown option ${arg}`;
        if (a.file) return `unexpected argument ${arg}`;
        a.file = arg;
    }
  }
  if (!a.file) return 'missing FILE.pcap';
  if (a.keyFiles.length > 2) return 'at most two --envelope-key files';
  return a;
}

/** `ctsyncd wire decode ...` (argv after "decode"; a leading "decode" is tolerated). */
export async function runWireDecode(argv: string[], io: CliIo = stdio): Promise<number> {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    io.err(`ctsyncd wire decode: ${args}\n${USAGE}`);
    return 2;
  }
  let recs: UdpRecord[];
  let envelope: Envelope | undefined;
  try {
    recs = readPcapFile(args.file);
    if (args.keyFiles.length) {
      // node id 0: a receive-only observer that accepts every sender id
      envelope = new Envelope({ nodeId: 0, keys: args.keyFiles.map((k) => ({ id: k.id, key: loadKeyFile(k.path) })) });
    }
  } catch (e) {
    io.err(`ctsyncd wire decode: ${(e as Error).message}\n`);
    return 2;
  }
  const stats = new WireRxStats();
  const opts = args.opts;
  let bad = 0;
  let differing = 0;
  let shown = 0;
  const t0 = recs[0]?.tsUs ?? 0;
  for (const r of recs) {
    if (args.port !== undefined && r.sport !== args.port && r.dport !== args.port) continue;
    shown++;
    const n = r.index + 1;
    const t = `+${((r.tsUs - t0) / 1e6).toFixed(6)}`;
    const src = r.family === 6 ? `[${r.src}]:${r.sport}` : `${r.src}:${r.sport}`;
    const dst = r.family === 6 ? `[${r.dst}]:${r.dport}` : `${r.dst}:${r.dport}`;
    if (!args.json) io.out(`#${n} t=${t} ${src} > ${dst} udp_payload=${r.payload.length}\n`);
    let payload = r.payload;
    if (envelope) {
      const before = { ...envelope.stats };
      const opened = envelope.open(payload);
      if (!opened) {
        const reason = Object.keys(before).find((k) => k !== 'dropped' && envelope.stats[k as keyof typeof before] !== before[k as keyof typeof before]);
        bad++;
        if (args.json) io.out(`${JSON.stringify({ n, t, dropped: `envelope:${reason}` })}\n`);
        else io.out(`   DROPPED envelope: ${reason}\n`);
        continue;
      }
      payload = opened.payload;
    }
    const rejectedBefore = stats.malformed;
    // re-encoded messages, one buffer each (a decoded message can re-encode longer, e.g. when
    // an absent STATUS is emitted as 0)
    const re: Buffer[] = [];
    let reencodable = true;
    walkDatagram(payload, 0, payload.length, stats, (h, buf, bodyOff, bodyEnd) => {
      if (h.type === NET_T.CTL) {
        emit(io, args.json, n, t, h, `${formatHeader(h)}`, {});
        const b = Buffer.alloc(isAckForm(h.type, h.flags) ? 16 : 8);
        encodeCtl(b, 0, h.flags, h.seq, h.from, h.to);
        re.push(b);
        // a CTL message with extra bytes cannot be reproduced by encodeCtl
        if (h.len !== (isAckForm(h.type, h.flags) ? 16 : 8)) reencodable = false;
        return;
      }
      const before = { ...stats };
      const m = decodeDataMessage(h, buf, bodyOff, bodyEnd, stats, opts);
      if (!m) {
        const reason = Object.keys(before).filter(
          (k) => k !== 'malformed' && stats[k as keyof WireRxStats] !== before[k as keyof typeof before],
        );
        emit(io, args.json, n, t, h, `${formatHeader(h)} REJECTED ${reason.join(',')}`, { rejected: reason });
        reencodable = false;
        return;
      }
      if (m.kind === 'ct') {
        emit(io, args.json, n, t, h, `${formatHeader(h)} ${formatFlowAttrs(m.flow, opts)}`, { flow: flowJson(m.flow) });
        const b = Buffer.alloc(ctMessageLength(m.flow, opts));
        encodeCt(b, 0, m.type, h.flags, h.seq, m.flow, opts);
        re.push(b);
      } else {
        emit(io, args.json, n, t, h, `${formatHeader(h)} ${formatExpAttrs(m.exp, opts)}`, { exp: expJson(m.exp) });
        const b = Buffer.alloc(expMessageLength(m.exp, opts));
        encodeExp(b, 0, m.type, h.flags, h.seq, m.exp, opts);
        re.push(b);
      }
    });
    const rejected = stats.malformed !== rejectedBefore;
    if (rejected) {
      bad++;
      if (!args.json) io.out('   REJECTED datagram (see counters below)\n');
    }
    if (args.verify && !rejected) {
      const out = Buffer.concat(re);
      const o = out.length;
      const same = reencodable && out.equals(payload);
      if (!same) {
        differing++;
        let at = 0;
        while (at < Math.min(o, payload.length) && out[at] === payload[at]) at++;
        const msg = `re-encoding differs at byte ${at} (${o} bytes re-encoded, ${payload.length} received)`;
        if (args.json) io.out(`${JSON.stringify({ n, t, verify: 'differs', at, reencoded: o, received: payload.length })}\n`);
        else io.out(`   VERIFY: ${msg}\n`);
      }
    }
  }
  const summary: Record<string, unknown> = {
    datagrams: shown,
    messages: stats.messages,
    rejected: bad,
    malformed: stats.malformed,
    truncated: stats.truncated,
    badSize: stats.badSize,
    badVersion: stats.badVersion,
    badType: stats.badType,
    malformedPayload: stats.malformedPayload,
  };
  if (args.verify) summary.reencodeDiffers = differing;
  if (envelope) summary.envelopeDropped = envelope.stats.dropped;
  if (args.json) io.out(`${JSON.stringify({ summary })}\n`);
  else
    io.out(
      `== ${Object.entries(summary)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}\n`,
    );
  return bad > 0 || differing > 0 ? 1 : 0;
}

function emit(io: CliIo, json: boolean, n: number, t: string, h: NetHeader, text: string, extra: Record<string, unknown>): void {
  if (!json) {
    io.out(`   ${text}\n`);
    return;
  }
  const obj: Record<string, unknown> = {
    n,
    t,
    version: h.version,
    type: typeName(h.type),
    flags: formatFlags(h.flags) === '-' ? [] : formatFlags(h.flags).split('|'),
    seq: h.seq,
    len: h.len,
  };
  if (isAckForm(h.type, h.flags)) {
    obj.from = h.from;
    obj.to = h.to;
  }
  Object.assign(obj, extra);
  io.out(`${JSON.stringify(obj)}\n`);
}
