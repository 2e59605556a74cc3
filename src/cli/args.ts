/**
 * conntrackd-compatible command line (spec §5.4), with conntrackd 1.4.7's parsing quirks:
 *  - only `argv[i][1]` is examined, so `-stats` is `-s` and `xs` is `-s` too;
 *  - a sub-argument is taken when the next word does not start with '-', and matches when it is
 *    a *prefix* of the keyword, tested in conntrackd's order (`-s c` = cache because cache is
 *    tested before ct; `-s r` = runtime; `-i e` = expect; an empty word matches the first);
 *  - for -c/-i/-e/-F/-R a sub-argument that matches neither `ct` nor `expect` is not consumed;
 *    the next iteration then reads it as an option (conntrackd does the same);
 *  - `-x` turns a preceding -i/-e dump into its XML variant; anything else is an error;
 *  - mixing `-d` with a client option is an error; the last client option wins.
 *
 * Deliberate difference: an unknown option prints the usage and exits 1 (conntrackd 1.4.7 exits
 * 0, later versions 1), so a typo in a fail-over script is noticed.
 */
import { CTL_REQ } from '../control/protocol';

export const DEFAULT_CONFIG_FILE = '/etc/conntrackd/conntrackd.conf';

export type ParsedArgs =
  | { kind: 'daemon'; configFile: string; detach: boolean; warnings: string[] }
  | { kind: 'request'; configFile: string; code: number; warnings: string[] }
  | { kind: 'version' }
  | { kind: 'help' }
  | { kind: 'error'; message: string; showUsage: boolean };

/** Prefix match like strncmp(word, keyword, strlen(word)) == 0. */
function prefixOf(word: string, keyword: string): boolean {
  return keyword.startsWith(word);
}

function hasSubArg(argv: string[], i: number): boolean {
  return i + 1 < argv.length && !argv[i + 1]!.startsWith('-');
}

/** `-s` sub-arguments in conntrackd's test order (multicast is the old name of link). */
const STATS_TABLE: [string, number][] = [
  ['network', CTL_REQ.STATS_NETWORK],
  ['cache', CTL_REQ.STATS_CACHE],
  ['runtime', CTL_REQ.STATS_RUNTIME],
  ['multicast', CTL_REQ.STATS_LINK],
  ['link', CTL_REQ.STATS_LINK],
  ['rsqueue', CTL_REQ.STATS_RSQUEUE],
  ['process', CTL_REQ.STATS_PROCESS],
  ['queue', CTL_REQ.STATS_QUEUE],
  ['ct', CTL_REQ.STATS],
  ['expect', CTL_REQ.EXP_STATS],
];

export function parseClientArgs(argv: string[]): ParsedArgs {
  let configFile = DEFAULT_CONFIG_FILE;
  let mode: 'daemon' | 'request' | undefined;
  let code: number | undefined;
  const warnings: string[] = [];

  const setMode = (m: 'daemon' | 'request'): string | undefined => {
    if (mode !== undefined && mode !== m) return 'invalid parameters: -d cannot be combined with client options';
    mode = m;
    return undefined;
  };
  /** set_action_by_table(): ct / expect / default. Returns the new index. */
  const byTable = (i: number, ct: number, exp: number, dfl: number): number => {
    if (hasSubArg(argv, i)) {
      const w = argv[i + 1]!;
      if (prefixOf(w, 'ct')) {
        code = ct;
        return i + 1;
      }
      if (prefixOf(w, 'expect')) {
        code = exp;
        return i + 1;
      }
      return i; // not consumed: conntrackd then parses it as the next option
    }
    code = dfl;
    return i;
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const opt = arg.length > 1 ? arg[1]! : '';
    let err: string | undefined;
    switch (opt) {
      case 'd':
        err = setMode('daemon');
        break;
      case 'C':
        if (i + 1 >= argv.length) return { kind: 'error', message: 'missing config filename after -C', showUsage: true };
        configFile = argv[++i]!;
        break;
      case 'c':
        err = setMode('request');
        i = byTable(i, CTL_REQ.CT_COMMIT, CTL_REQ.EXP_COMMIT, CTL_REQ.ALL_COMMIT);
        break;
      case 'i':
        err = setMode('request');
        i = byTable(i, CTL_REQ.CT_DUMP_INTERNAL, CTL_REQ.EXP_DUMP_INTERNAL, CTL_REQ.CT_DUMP_INTERNAL);
        break;
      case 'e':
        err = setMode('request');
        i = byTable(i, CTL_REQ.CT_DUMP_EXTERNAL, CTL_REQ.EXP_DUMP_EXTERNAL, CTL_REQ.CT_DUMP_EXTERNAL);
        break;
      case 'F':
        err = setMode('request');
        i = byTable(i, CTL_REQ.CT_FLUSH_MASTER, CTL_REQ.EXP_FLUSH_MASTER, CTL_REQ.ALL_FLUSH_MASTER);
        break;
      case 'R':
        err = setMode('request');
        i = byTable(i, CTL_REQ.CT_RESYNC_MASTER, CTL_REQ.EXP_RESYNC_MASTER, CTL_REQ.ALL_RESYNC_MASTER);
        break;
      case 'f':
        err = setMode('request');
        if (hasSubArg(argv, i)) {
          const w = argv[i + 1]!;
          if (prefixOf(w, 'internal')) code = CTL_REQ.CT_FLUSH_INT_CACHE;
          else if (prefixOf(w, 'external')) code = CTL_REQ.CT_FLUSH_EXT_CACHE;
          else return { kind: 'error', message: `unknown parameter '${w}' for option '-f'`, showUsage: false };
          i++;
        } else code = CTL_REQ.ALL_FLUSH_CACHE;
        break;
      case 's':
        err = setMode('request');
        if (hasSubArg(argv, i)) {
          const w = argv[i + 1]!;
          const hit = STATS_TABLE.find(([kw]) => prefixOf(w, kw));
          if (!hit) return { kind: 'error', message: `unknown parameter '${w}' for option '-s'`, showUsage: false };
          code = hit[1];
          i++;
        } else code = CTL_REQ.STATS;
        break;
      case 'B':
        err = setMode('request');
        code = CTL_REQ.SEND_BULK;
        break;
      case 'n':
        err = setMode('request');
        code = CTL_REQ.REQUEST_DUMP;
        break;
      case 't':
        err = setMode('request');
        code = CTL_REQ.RESET_TIMERS;
        break;
      case 'k':
        err = setMode('request');
        code = CTL_REQ.KILL;
        break;
      case 'x':
        if (code === CTL_REQ.CT_DUMP_INTERNAL) code = CTL_REQ.CT_DUMP_INT_XML;
        else if (code === CTL_REQ.CT_DUMP_EXTERNAL) code = CTL_REQ.CT_DUMP_EXT_XML;
        else if (code === CTL_REQ.EXP_DUMP_INTERNAL) code = CTL_REQ.EXP_DUMP_INT_XML;
        else if (code === CTL_REQ.EXP_DUMP_EXTERNAL) code = CTL_REQ.EXP_DUMP_EXT_XML;
        else return { kind: 'error', message: 'invalid parameters: -x needs a preceding -i or -e', showUsage: true };
        break;
      case 'S':
        warnings.push('-S option is obsolete; ignoring');
        break;
      case 'v':
        return { kind: 'version' };
      case 'h':
        return { kind: 'help' };
      default:
        return { kind: 'error', message: `unknown option: ${arg}`, showUsage: true };
    }
    if (err) return { kind: 'error', message: err, showUsage: true };
  }
  if (mode === 'request') {
    // Every request option sets a code; an unconsumed -i sub-argument leaves the previous one.
    return { kind: 'request', configFile, code: code ?? CTL_REQ.CT_DUMP_INTERNAL, warnings };
  }
  return { kind: 'daemon', configFile, detach: mode === 'daemon', warnings };
}

export const CLIENT_USAGE = `Usage: ctsyncd [commands] [options]   (conntrackd-compatible)

General commands:
  -d, run in daemon mode
  -C [configfile], configuration file path
  -v, display version
  -h, display this help information

Client mode commands:
  -c [ct|expect], commit external cache to conntrack table
  -f [internal|external], flush internal and external cache
  -F [ct|expect], flush kernel conntrack table
  -i [ct|expect], display content of the internal cache
  -e [ct|expect], display the content of the external cache
  -k, kill conntrack daemon
  -s  [network|cache|runtime|link|rsqueue|queue|ct|expect], dump statistics
  -R [ct|expect], resync with kernel conntrack table
  -n, request resync with other node (only FT-FW and NOTRACK modes)
  -B, force a bulk send to other replica firewalls
  -x, dump cache in XML format (requires -i or -e)
  -t, reset the kernel timeout (see PurgeTimeout clause)
`;
