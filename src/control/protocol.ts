/**
 * UNIX control-socket protocol (spec §8).
 *
 * conntrackd requests: the client connects (AF_UNIX, SOCK_STREAM) and writes the request code as
 * a 4-byte native-endian signed int (little-endian on every platform Node runs ctsyncd on); the
 * daemon answers with free-form text and closes the connection. Unknown codes are closed silently.
 *
 * ctsyncd extension (codes 1000-1999, never sent by conntrackd's client):
 *   request  = int32 LE code | uint32 LE length | `length` bytes of UTF-8 JSON
 *   reply    = UTF-8 JSON text, then the daemon closes the connection
 * Code 1000 (CTSYNC_JSON) carries `{ "cmd": string, ...args }` and is answered with
 * `{ "ok": true, ... }` or `{ "ok": false, "error": string }`. The length prefix lets the server
 * know the request is complete without a half-close; requests above JSON_MAX_BYTES are refused.
 */

/** Stable error codes of the control socket (server and client). */
export const CONTROL_ERR = {
  IN_USE: 'CTSYNC_ERR_CONTROL_IN_USE',
  LISTEN: 'CTSYNC_ERR_CONTROL_LISTEN',
  NOT_SOCKET: 'CTSYNC_ERR_CONTROL_NOT_SOCKET',
  CONNECT: 'CTSYNC_ERR_CONTROL_CONNECT',
  TIMEOUT: 'CTSYNC_ERR_CONTROL_TIMEOUT',
  IO: 'CTSYNC_ERR_CONTROL_IO',
} as const;

/** Request codes with their C names (conntrackd include/conntrackd.h). */
export const CTL_REQ = {
  CT_FLUSH_MASTER: 0,
  CT_RESYNC_MASTER: 1,
  CT_DUMP_INTERNAL: 16,
  CT_DUMP_EXTERNAL: 17,
  CT_COMMIT: 18,
  CT_FLUSH_CACHE: 19,
  KILL: 20,
  STATS: 21,
  SEND_BULK: 22,
  REQUEST_DUMP: 23,
  CT_DUMP_INT_XML: 24,
  CT_DUMP_EXT_XML: 25,
  RESET_TIMERS: 26,
  DEBUG_INFO: 27,
  STATS_NETWORK: 28,
  STATS_CACHE: 29,
  STATS_RUNTIME: 30,
  STATS_LINK: 31,
  STATS_RSQUEUE: 32,
  CT_FLUSH_INT_CACHE: 33,
  CT_FLUSH_EXT_CACHE: 34,
  STATS_PROCESS: 35,
  STATS_QUEUE: 36,
  EXP_STATS: 37,
  EXP_FLUSH_MASTER: 38,
  EXP_RESYNC_MASTER: 39,
  EXP_DUMP_INTERNAL: 40,
  EXP_DUMP_EXTERNAL: 41,
  EXP_COMMIT: 42,
  ALL_FLUSH_MASTER: 43,
  ALL_RESYNC_MASTER: 44,
  ALL_FLUSH_CACHE: 45,
  ALL_COMMIT: 46,
  EXP_DUMP_INT_XML: 47,
  EXP_DUMP_EXT_XML: 48,
} as const;

export type CtlRequestName = keyof typeof CTL_REQ;
export type CtlRequestCode = (typeof CTL_REQ)[CtlRequestName];

const NAME_BY_CODE = new Map<number, CtlRequestName>(
  (Object.entries(CTL_REQ) as [CtlRequestName, number][]).map(([k, v]) => [v, k]),
);

export function requestName(code: number): string | undefined {
  return NAME_BY_CODE.get(code) ?? (code === CTSYNC_JSON ? 'CTSYNC_JSON' : undefined);
}

/** Commit requests hold the client connection until the commit finishes (spec §5.3). */
export function isCommit(code: number): boolean {
  return code === CTL_REQ.CT_COMMIT || code === CTL_REQ.EXP_COMMIT || code === CTL_REQ.ALL_COMMIT;
}

/** ctsyncd extension range (see the header comment). */
export const EXT_CODE_MIN = 1000;
export const EXT_CODE_MAX = 1999;
export const CTSYNC_JSON = 1000;
export const JSON_MAX_BYTES = 1024 * 1024;

export function isExtension(code: number): boolean {
  return code >= EXT_CODE_MIN && code <= EXT_CODE_MAX;
}

export function encodeRequest(code: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(code, 0);
  return b;
}

export function encodeJsonRequest(request: unknown, code: number = CTSYNC_JSON): Buffer {
  const body = Buffer.from(JSON.stringify(request), 'utf8');
  const b = Buffer.alloc(8 + body.length);
  b.writeInt32LE(code, 0);
  b.writeUInt32LE(body.length, 4);
  body.copy(b, 8);
  return b;
}

/**
 * Commit outcome line (ctsyncd extension of the commit reply; conntrackd's reply is empty).
 * The daemon ends a commit reply with exactly one such line:
 *   `ctsyncd-commit: ok ct=N exp=M failed=0`
 *   `ctsyncd-commit: partial ct=N exp=M failed=F`     (some entries could not be created)
 *   `ctsyncd-commit: refused reason=TEXT`             (e.g. another commit is running)
 * conntrackd's client prints it verbatim; ctsyncd's client recognises it, prints a summary on
 * stderr for partial/refused outcomes and exits 1 for them.
 */
export const COMMIT_STATUS_PREFIX = 'ctsyncd-commit: ';

export interface CommitStatus {
  outcome: 'ok' | 'partial' | 'refused';
  ct: number;
  exp: number;
  failed: number;
  reason?: string;
}

export function formatCommitStatus(s: CommitStatus): string {
  if (s.outcome === 'refused') return `${COMMIT_STATUS_PREFIX}refused reason=${(s.reason ?? 'unknown').replace(/\s+/g, '_')}\n`;
  return `${COMMIT_STATUS_PREFIX}${s.outcome} ct=${s.ct} exp=${s.exp} failed=${s.failed}\n`;
}

/** Finds the commit status line in a reply; returns the status and the text without it. */
export function parseCommitStatus(reply: string): { status?: CommitStatus; rest: string } {
  const lines = reply.split('\n');
  const idx = lines.findIndex((l) => l.startsWith(COMMIT_STATUS_PREFIX));
  if (idx < 0) return { rest: reply };
  const line = lines[idx]!.slice(COMMIT_STATUS_PREFIX.length);
  lines.splice(idx, 1);
  const rest = lines.join('\n');
  const [outcome, ...kv] = line.trim().split(/\s+/);
  const f: Record<string, string> = {};
  for (const p of kv) {
    const eq = p.indexOf('=');
    if (eq > 0) f[p.slice(0, eq)] = p.slice(eq + 1);
  }
  if (outcome !== 'ok' && outcome !== 'partial' && outcome !== 'refused') return { rest: reply };
  const status: CommitStatus = { outcome, ct: Number(f.ct ?? 0), exp: Number(f.exp ?? 0), failed: Number(f.failed ?? 0) };
  if (f.reason !== undefined) status.reason = f.reason.replace(/_/g, ' ');
  return { status, rest };
}
