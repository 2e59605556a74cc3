/** Shared helpers for the ctnetlink codec tests: load captured kernel datagrams. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { forEachNlMsg, type NlMsg } from '../../src/netlink/message';

export const FIXTURES = join(__dirname, 'fixtures');

/** One Buffer per captured datagram (fixtures/<name>.hex, one hex line each). */
export function loadDatagrams(name: string): Buffer[] {
  return readFileSync(join(FIXTURES, name), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => Buffer.from(l.trim(), 'hex'));
}

export function loadLines(name: string): string[] {
  return readFileSync(join(FIXTURES, name), 'utf8')
    .split('\n')
    .filter((l) => l !== '');
}

/** All messages of all datagrams, in order. */
export function messages(datagrams: Buffer[]): NlMsg[] {
  const out: NlMsg[] = [];
  for (const d of datagrams) forEachNlMsg(d, 0, d.length, (m) => out.push(m));
  return out;
}
