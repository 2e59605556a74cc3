/**
 * loadConfig(path): read a configuration file in either format, validate it, resolve defaults.
 *  - conntrackd.conf (spec §7) — detected by the extension `.conf` or a leading
 *    `General {` / `Sync {` / `Stats {` / `Helper {` block;
 *  - native JSON (`.json` or a leading `{`) or YAML (`.yaml` / `.yml`, or anything else).
 * Both go through the same validation (schema.ts), so a conntrackd.conf and its converted native
 * form resolve to the same DaemonConfig.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { CtsyncError } from '../core/errors';
import { lineOfKey, looksLikeConntrackdConf, parseConntrackdConf } from './conntrackd-conf';
import { CONFIG_ERR, ConfigError, type ConfigProblem } from './errors';
import { type MachineInfo, readMachineInfo, resolveNative } from './schema';
import type { ConfigWarning, DaemonConfig, NativeConfig } from './types';

export type ConfigFormat = 'conntrackd' | 'json' | 'yaml';

export function detectFormat(path: string, text: string): ConfigFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  if (ext === '.conf' || looksLikeConntrackdConf(text)) return 'conntrackd';
  return text.trimStart().startsWith('{') ? 'json' : 'yaml';
}

export interface NativeRead {
  format: ConfigFormat;
  native: NativeConfig;
  warnings: ConfigWarning[];
  /** Semantic problems the conntrackd.conf reader found (resolution adds its own). */
  problems: ConfigProblem[];
  /** conntrackd.conf only: native key → line that set it. */
  keyLines?: Map<string, number>;
  /** conntrackd.conf without a Sync block: `problems` says so; nothing else is checked. */
  noSync?: boolean;
}

/** Gives a validation problem about a native key the conntrackd.conf line that set it. */
export function locateProblem(p: ConfigProblem, keyLines: Map<string, number> | undefined): ConfigProblem {
  if (p.line !== undefined || !keyLines) return p;
  const m = /^([A-Za-z][\w.[\]]*): /.exec(p.message);
  const line = m ? lineOfKey(keyLines, m[1]!) : undefined;
  return line === undefined ? p : { ...p, line };
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new CtsyncError(CONFIG_ERR.READ, `cannot read config file ${path}: ${code}`, { cause: e });
  }
}

/** Parses a file into the native shape (no validation beyond the grammar). */
export function readNative(path: string, text: string = readText(path)): NativeRead {
  const format = detectFormat(path, text);
  if (format === 'conntrackd') {
    const r = parseConntrackdConf(text);
    return { format, native: r.native, warnings: r.warnings, problems: r.problems, keyLines: r.keyLines, noSync: r.noSync };
  }
  let native: unknown;
  try {
    // yaml is loaded only for YAML files: it is most of a client's start-up time otherwise
    native = format === 'json' ? JSON.parse(text) : (require('yaml') as typeof import('yaml')).parse(text);
  } catch (e) {
    throw new ConfigError([{ message: `invalid ${format.toUpperCase()}: ${(e as Error).message.split('\n')[0]}` }], path);
  }
  if (native === null || native === undefined) native = {};
  return { format, native: native as NativeConfig, warnings: [], problems: [] };
}

export interface LoadedConfig {
  config: DaemonConfig;
  warnings: ConfigWarning[];
  format: ConfigFormat;
}

/**
 * Reads, validates and resolves a config file. Throws ConfigSyntaxError (conntrackd grammar),
 * ConfigError (one line per problem) or CtsyncError CONFIG_READ.
 */
export function loadConfig(path: string, opts: { machine?: MachineInfo; text?: string } = {}): LoadedConfig {
  const r = readNative(path, opts.text ?? readText(path));
  let resolved: ReturnType<typeof resolveNative> | undefined;
  const problems = [...r.problems];
  if (r.noSync) throw new ConfigError(problems, path);
  try {
    resolved = resolveNative(r.native, opts.machine ?? readMachineInfo());
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.push(...e.problems.map((p) => locateProblem(p, r.keyLines)));
  }
  if (problems.length > 0 || !resolved) throw new ConfigError(problems, path);
  return { config: resolved.config, warnings: [...r.warnings, ...resolved.warnings], format: r.format };
}
