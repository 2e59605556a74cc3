/** Typed configuration errors (ARCHITECTURE habit 8: stable code, one clear line per problem). */
import { CtsyncError } from '../core/errors';

export const CONFIG_ERR = {
  SYNTAX: 'CTSYNC_ERR_CONFIG_SYNTAX',
  INVALID: 'CTSYNC_ERR_CONFIG_INVALID',
  READ: 'CTSYNC_ERR_CONFIG_READ',
} as const;

/**
 * conntrackd.conf grammar violation. The message is conntrackd's own (spec §7):
 * `parsing config file in line (N), symbol 'X': syntax error` (symbol '' at end of file).
 */
export class ConfigSyntaxError extends CtsyncError {
  constructor(
    readonly line: number,
    readonly symbol: string,
    readonly hint?: string,
  ) {
    super(
      CONFIG_ERR.SYNTAX,
      `parsing config file in line (${line}), symbol '${symbol}': syntax error${hint ? ` (${hint})` : ''}`,
    );
    this.name = 'ConfigSyntaxError';
  }
}

export interface ConfigProblem {
  line?: number;
  message: string;
}

/** One or more semantic / schema problems; `message` holds one line per problem. */
export class ConfigError extends CtsyncError {
  constructor(
    readonly problems: ConfigProblem[],
    readonly file?: string,
  ) {
    super(CONFIG_ERR.INVALID, problems.map((p) => formatProblem(p, file)).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatProblem(p: ConfigProblem, file?: string): string {
  const where = file ? (p.line !== undefined ? `${file}:${p.line}: ` : `${file}: `) : p.line !== undefined ? `line ${p.line}: ` : '';
  return `${where}${p.message}`;
}
