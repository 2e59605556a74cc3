/**
 * The lock file (spec §5.1 start-up order: first thing taken, last thing removed). conntrackd
 * uses O_EXCL and refuses to start while the file exists, which leaves a stale lock after a
 * crash; we write our PID and take over a lock whose PID is no longer alive.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CtsyncError } from '../core/errors';

export class LockFile {
  private held = false;
  constructor(readonly file: string) {}

  acquire(): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = fs.openSync(this.file, 'wx', 0o600);
        fs.writeSync(fd, `${process.pid}\n`);
        fs.closeSync(fd);
        this.held = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new CtsyncError('CTSYNC_ERR_LOCK', `cannot create lock file ${this.file}: ${(err as Error).message}`, {
            cause: err,
          });
        }
        const owner = readPid(this.file);
        if (owner !== undefined && owner !== process.pid && isAlive(owner)) {
          throw new CtsyncError(
            'CTSYNC_ERR_LOCK',
            `lock file ${this.file} is held by running process ${owner}: another daemon is running`,
          );
        }
        // stale (no PID, or its process is gone): remove and retry once
        fs.rmSync(this.file, { force: true });
      }
    }
    throw new CtsyncError('CTSYNC_ERR_LOCK', `cannot take lock file ${this.file}`);
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    if (readPid(this.file) === process.pid) fs.rmSync(this.file, { force: true });
  }
}

function readPid(file: string): number | undefined {
  try {
    const n = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
