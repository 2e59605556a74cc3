/**
 * `ctsyncd config convert FILE [--json]` prints the native (YAML by default, or JSON) equivalent
 * of a conntrackd.conf or native file; `ctsyncd config check FILE [--json]` validates it and
 * prints every warning with its line. Exit 0 when valid, 1 on any error, 2 on usage errors.
 */
import { stringify as toYaml } from 'yaml';
import { ConfigError, ConfigSyntaxError, formatProblem } from '../config/errors';
import { loadConfig, locateProblem, readNative } from '../config/load';
import { resolveNative } from '../config/schema';
import type { ConfigWarning } from '../config/types';

export interface ConfigCmdIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const stdio: ConfigCmdIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

const USAGE = `Usage:
  ctsyncd config convert FILE [--json]   print the native config equivalent to FILE (YAML, or JSON)
  ctsyncd config check FILE [--json]     validate FILE, print warnings; exit 1 on errors
FILE is a conntrackd.conf or a ctsyncd JSON/YAML file.
`;

function warningLine(file: string, w: ConfigWarning): string {
  return `${file}${w.line !== undefined ? `:${w.line}` : ''}: warning: ${w.message}`;
}

function errorLines(e: unknown, file: string): string[] {
  if (e instanceof ConfigSyntaxError) return [`${file}: ${e.message}`];
  if (e instanceof ConfigError) return e.problems.map((p) => formatProblem(p, file));
  return [`${file}: ${(e as Error).message ?? String(e)}`];
}

/** Replaces bigint/Cidr-free values: the native shape is plain JSON already. */
export function formatNative(native: unknown, json: boolean, header: string[] = []): string {
  if (json) return `${JSON.stringify(native, null, 2)}\n`;
  const head = header.map((h) => `# ${h}\n`).join('');
  return head + toYaml(native, { lineWidth: 0 });
}

export async function runConfigCommand(argv: string[], io: ConfigCmdIo = stdio): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(USAGE);
    return 0;
  }
  const [cmd, ...rest] = argv;
  const json = rest.includes('--json');
  const files = rest.filter((a) => !a.startsWith('--'));
  const unknownFlag = rest.find((a) => a.startsWith('--') && a !== '--json');
  if ((cmd !== 'convert' && cmd !== 'check') || files.length !== 1 || unknownFlag) {
    if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
      io.out(USAGE);
      return 0;
    }
    io.err(USAGE);
    return 2;
  }
  const file = files[0]!;

  if (cmd === 'check') {
    try {
      const r = loadConfig(file);
      if (json) {
        io.out(`${JSON.stringify({ ok: true, format: r.format, warnings: r.warnings, errors: [] })}\n`);
      } else {
        for (const w of r.warnings) io.err(`${warningLine(file, w)}\n`);
        const c = r.config;
        io.out(
          `${file}: OK (${r.format}, mode ${c.mode}, ${c.channels.length} ${c.channels[0]?.kind ?? ''} link${c.channels.length === 1 ? '' : 's'}, socket ${c.general.unixPath}, ${r.warnings.length} warning${r.warnings.length === 1 ? '' : 's'})\n`,
        );
      }
      return 0;
    } catch (e) {
      const lines = errorLines(e, file);
      if (json) io.out(`${JSON.stringify({ ok: false, warnings: [], errors: lines })}\n`);
      else for (const l of lines) io.err(`${l}\n`);
      return 1;
    }
  }

  // convert: parse, validate (so the output is known to load), print the native input shape
  try {
    const r = readNative(file);
    const problems = [...r.problems];
    if (r.noSync) throw new ConfigError(problems);
    let warnings = r.warnings;
    try {
      warnings = [...warnings, ...resolveNative(r.native).warnings];
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      problems.push(...e.problems.map((p) => locateProblem(p, r.keyLines)));
    }
    if (problems.length > 0) throw new ConfigError(problems);
    for (const w of warnings) io.err(`${warningLine(file, w)}\n`);
    const header = [`converted from ${file} (${r.format}) by 'ctsyncd config convert'`];
    for (const w of warnings) header.push(`warning${w.line !== undefined ? ` (line ${w.line})` : ''}: ${w.message}`);
    io.out(formatNative(r.native, json, header));
    return 0;
  } catch (e) {
    for (const l of errorLines(e, file)) io.err(`${l}\n`);
    return 1;
  }
}
