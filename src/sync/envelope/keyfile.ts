/**
 * Envelope key files: 32 raw bytes, or 64 hex digits (surrounding whitespace allowed). Keys are
 * only ever read from files (never the command line, where `ps` shows them), and the file must
 * not be accessible to group or others.
 */
import { readFileSync, statSync } from 'node:fs';
import { CtsyncError } from '../../core/errors';
import { CTSYNC_ERR_ENVELOPE } from './envelope';

export function loadKeyFile(path: string): Buffer {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (e) {
    throw new CtsyncError(CTSYNC_ERR_ENVELOPE, `envelope key file ${path}: ${(e as Error).message}`, { cause: e });
  }
  if ((mode & 0o077) !== 0) {
    throw new CtsyncError(
      CTSYNC_ERR_ENVELOPE,
      `envelope key file ${path} is accessible by group/others (mode ${(mode & 0o777).toString(8)}); run chmod 600 ${path}`,
    );
  }
  const raw = readFileSync(path);
  if (raw.length === 32) return Buffer.from(raw);
  const text = raw.toString('latin1').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  throw new CtsyncError(
    CTSYNC_ERR_ENVELOPE,
    `envelope key file ${path}: need 32 raw bytes or 64 hex digits, got ${raw.length} bytes`,
  );
}
