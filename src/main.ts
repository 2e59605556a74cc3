/**
 * Command-line entry (bin/ctsyncd). The outside is fixed by compatibility with conntrackd:
 *   ctsyncd -C FILE [-d]          run the daemon (foreground, or detached with -d)
 *   ctsyncd -C FILE -c|-f|-F|-i|-e|-x|-R|-B|-n|-t|-k|-s   talk to a running daemon
 * plus our own subcommands (kernel, wire, config, status, stats, cache, promote, demote).
 */
import { VERSION } from './version';

const USAGE = `ctsyncd ${VERSION}: connection-tracking state sync for Linux firewall pairs

Daemon (conntrackd-compatible):
  ctsyncd -C FILE              run in the foreground (FILE: conntrackd.conf or ctsyncd JSON/YAML)
  ctsyncd -C FILE -d           run detached (daemon mode)

Client flags (same as conntrackd; talk to the running daemon over its UNIX socket):
  -c [ct|expect]   commit the external cache into the kernel (exit 1 if partial)
  -f [internal|external]  flush caches        -F [ct|expect]  flush the kernel table (filtered)
  -i [ct|expect]   dump the internal cache    -e [ct|expect]  dump the external cache   -x  XML
  -R [ct|expect]   resync the internal cache with the kernel table
  -B               bulk send to peers         -n  request a resync from peers
  -t               schedule a delayed flush   -k  stop the daemon
  -s [network|cache|runtime|link|rsqueue|process|queue|ct|expect]  statistics
  -v  version      -h  help

Our subcommands:
  ctsyncd status [--json] [--ready] -C FILE     sync state; --ready exits 0 only when ready
  ctsyncd stats [--json] -C FILE                all counters
  ctsyncd cache internal|external [--json] -C FILE
  ctsyncd promote -C FILE [--hold-ms N]        become active: hold new traffic, commit, release
  ctsyncd demote -C FILE                       become backup (primary-backup.sh backup branch)
  ctsyncd kernel list|count|events|get|create|delete|flush|stats [filters] [--json]
  ctsyncd wire decode FILE.pcap [--json] [--verify] [--envelope-key FILE]
  ctsyncd config convert|check FILE

Run 'ctsyncd <subcommand> --help' for details.
`;

const CLIENT_FLAGS = new Set(['c', 'f', 'F', 'i', 'e', 'x', 'R', 'B', 'n', 't', 'k', 's']);

export async function main(argv: string[]): Promise<number> {
  const sub = argv[0];
  switch (sub) {
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return sub === undefined ? 1 : 0;
    case '-v':
    case '--version':
    case 'version':
      process.stdout.write(`ctsyncd v${VERSION}\n`);
      return 0;
    case 'kernel':
      return (await import('./cli/kernel')).runKernelCommand(argv.slice(1));
    case 'wire':
      return (await import('./cli/wire')).runWireCommand(argv.slice(1));
    case 'config':
      return (await import('./cli/config-cmd')).runConfigCommand(argv.slice(1));
    case 'status':
    case 'stats':
    case 'cache':
    case 'promote':
    case 'demote':
      return (await import('./cli/ops')).runOpsCommand(sub, argv.slice(1));
    default:
      break;
  }
  // conntrackd looks at every argument's letter: `ctsyncd -C FILE -v` prints the version too.
  if (argv.includes('-v')) return main(['-v']);
  if (argv.includes('-h')) return main(['-h']);
  // conntrackd-style options, unknown ones included, go to conntrackd's parser (cli/args.ts): an
  // unknown option then prints conntrackd's usage and exits 1, as args.ts documents.
  const conntrackdOption = (a: string) => a.length >= 2 && a[0] === '-' && a[1] !== '-' && (CLIENT_FLAGS.has(a[1]!) || (a !== '-C' && a !== '-d'));
  if (argv.some(conntrackdOption)) {
    return (await import('./cli/client')).runClient(argv);
  }
  const daemonArgs = parseDaemonArgs(argv);
  if (typeof daemonArgs === 'string') {
    process.stderr.write(`ctsyncd: ${daemonArgs}\n${USAGE}`);
    return 2;
  }
  const { runDaemon } = await import('./daemon/run');
  return runDaemon(daemonArgs);
}

export interface DaemonArgs {
  configFile: string;
  detach: boolean;
}

function parseDaemonArgs(argv: string[]): DaemonArgs | string {
  let configFile = '/etc/conntrackd/conntrackd.conf';
  let detach = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-C') {
      const f = argv[++i];
      if (!f) return 'option -C needs a file name';
      configFile = f;
    } else if (a === '-d') {
      detach = true;
    } else {
      return `unknown option '${a}'`;
    }
  }
  return { configFile, detach };
}
