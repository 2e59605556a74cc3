/**
 * `ctsyncd -C FILE -c|-f|-F|-i|-e|-x|-R|-B|-n|-t|-k|-s ...`: conntrackd's client (spec §5.4).
 * Reads the config only to find the control socket, sends one request code, prints the reply
 * verbatim. Exit codes: 0 success; 1 when the config cannot be read/parsed, the socket cannot be
 * reached, an option or sub-argument is unknown, or a commit reports a partial/refused outcome
 * (ctsyncd extension, protocol.ts COMMIT_STATUS_PREFIX; conntrackd's empty commit reply is 0).
 */
import { CONNTRACKD_DEFAULT_UNIX_PATH } from '../config/conntrackd-conf';
import { readNative } from '../config/load';
import { controlRequest } from '../control/client';
import { isCommit, parseCommitStatus, requestName } from '../control/protocol';
import { VERSION } from '../version';
import { CLIENT_USAGE, parseClientArgs } from './args';

export interface ClientIo {
  out: (text: string | Buffer) => void;
  err: (text: string) => void;
}

const stdio: ClientIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

/** Socket path from a config file of either format (grammar only: clients need no more). */
export function socketPathFromConfig(file: string): string {
  const r = readNative(file);
  return r.native.general?.unixPath ?? (r.format === 'conntrackd' ? CONNTRACKD_DEFAULT_UNIX_PATH : '/run/ctsyncd.ctl');
}

export async function runClient(argv: string[], io: ClientIo = stdio): Promise<number> {
  const a = parseClientArgs(argv);
  switch (a.kind) {
    case 'version':
      io.out(`ctsyncd v${VERSION} (conntrackd 1.4.7 compatible control interface)\n`);
      return 0;
    case 'help':
      io.out(CLIENT_USAGE);
      return 0;
    case 'error':
      if (a.showUsage) io.err(CLIENT_USAGE);
      io.err(`ctsyncd: ${a.message}\n`);
      return 1;
    case 'daemon':
      io.err('ctsyncd: no client option given (start the daemon with: ctsyncd -C FILE [-d])\n');
      return 1;
    case 'request':
      break;
  }
  for (const w of a.warnings) io.err(`ctsyncd: warning: ${w}\n`);
  let path: string;
  try {
    path = socketPathFromConfig(a.configFile);
  } catch (e) {
    io.err(`ctsyncd: ${(e as Error).message}\n`);
    return 1;
  }
  try {
    if (isCommit(a.code)) {
      // Commits hold the connection until done (spec §5.3): no inactivity timeout.
      const reply = await controlRequest(path, a.code, { timeoutMs: 0 });
      const { status, rest } = parseCommitStatus(reply);
      if (rest) io.out(rest);
      if (status && status.outcome !== 'ok') {
        io.err(
          status.outcome === 'partial'
            ? `ctsyncd: commit incomplete: ${status.failed} entries failed (${status.ct} conntracks and ${status.exp} expectations committed)\n`
            : `ctsyncd: commit refused: ${status.reason ?? 'unknown reason'}\n`,
        );
        return 1;
      }
      return 0;
    }
    await controlRequest(path, a.code, { onData: (c) => io.out(c) });
    return 0;
  } catch (e) {
    io.err(`ctsyncd: ${(e as Error).message} (request ${requestName(a.code) ?? a.code})\n`);
    return 1;
  }
}
